package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trellis.install.ControlPlane;
import dev.trellis.install.InstallOptions;
import dev.trellis.testing.TestPki;
import dev.trellis.testing.cluster.RunningPod;
import dev.trellis.testing.cluster.SimulatedCluster;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the injector can stop, on a simulated cluster whose API server calls the rendered
 * webhooks as a real one does (their selectors evaluated, {@code failurePolicy}, timeouts):
 * only pods that opted in to the mesh. With the injector down, every other pod is created and
 * opted-in pods are refused with the reason; with the injector cut off from the API server,
 * it still answers from its namespace cache, and where the cache cannot answer it refuses
 * before the API server's timeout, naming the cause.
 */
class InjectorBlastRadiusTest {

    @TempDir
    Path dir;

    @Test
    void withTheInjectorDownOnlyPodsThatOptedInAreRefused() throws Exception {
        assumeTrue(SimulatedCluster.available(), "needs root, ip, setpriv and mount (CI runs as root)");
        try (SimulatedCluster cluster = SimulatedCluster.start(dir.resolve("cluster"), Distribution.images())) {
            KubernetesClient client = cluster.client();
            // The webhook configuration and the injector's Service, but no injector running.
            for (HasMetadata object : ControlPlane.objects(options(), new SecureRandom())) {
                if (Stream.of("MutatingWebhookConfiguration", "Service", "Namespace").anyMatch(object.getKind()::equals)) {
                    client.resource(object).createOr(existing -> existing.update());
                }
            }
            namespace(client, "plain", Map.of(), Map.of());
            namespace(client, "meshed", Map.of("trellis.dev/inject", "enabled"), Map.of());
            namespace(client, "legacy", Map.of(), Map.of("trellis.dev/inject", "enabled"));

            // Everything that did not opt in is created: in any namespace, whatever happens to the injector.
            for (Pod pod : List.of(pod("plain", "a", Map.of()), pod("default", "b", Map.of()), pod("legacy", "c", Map.of()),
                    pod("meshed", "opted-out", Map.of("trellis.dev/inject", "disabled")))) {
                assertThat(cluster.create(pod).pod().getMetadata().getUid()).as(pod.getMetadata().getName()).isNotNull();
            }
            // What opted in is refused, with the API server's reason naming the webhook and why.
            assertThatThrownBy(() -> cluster.create(pod("meshed", "web", Map.of())))
                    .hasMessageContaining("failed calling webhook \"namespaces.injector.trellis.dev\"").hasMessageContaining("no endpoints available");
            assertThatThrownBy(() -> cluster.create(pod("plain", "web", Map.of("trellis.dev/inject", "enabled"))))
                    .hasMessageContaining("failed calling webhook \"pods.injector.trellis.dev\"").hasMessageContaining("no endpoints available");
            assertThat(client.pods().inNamespace("meshed").withName("web").get()).isNull();
            assertThat(client.pods().inNamespace("plain").withName("web").get()).isNull();
        }
    }

    @Test
    void cutOffFromTheApiServerTheInjectorAnswersFromItsCacheOrRefusesInTime() throws Exception {
        assumeTrue(SimulatedCluster.available(), "needs root, ip, setpriv and mount (CI runs as root)");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/iptables")), "needs iptables (.ci/run installs it)");
        try (SimulatedCluster cluster = SimulatedCluster.start(dir.resolve("cluster"), Distribution.images())) {
            KubernetesClient client = cluster.client();
            List<Deployment> injector = new ArrayList<>();
            for (HasMetadata object : ControlPlane.objects(options(), new SecureRandom())) {
                if (object instanceof Deployment deployment) {
                    if (deployment.getMetadata().getName().equals("trellis-injector")) {
                        injector.add(deployment);
                    }
                } else {
                    client.resource(object).create();
                }
            }
            namespace(client, "meshed", Map.of("trellis.dev/inject", "enabled"), Map.of());
            List<RunningPod> injectors = cluster.deploy(injector.getFirst());
            assertThat(injectors).hasSize(2);
            for (RunningPod pod : injectors) {
                pod.awaitReady(Duration.ofSeconds(90));
            }
            assertThat(isInjected(cluster.create(pod("meshed", "before", Map.of())).pod())).isTrue();

            // Cut every injector off from the API server: packets dropped, as on a partitioned node.
            InetSocketAddress api = cluster.apiServerAddress();
            for (RunningPod pod : injectors) {
                String host = api.getAddress().getHostAddress();
                String port = String.valueOf(api.getPort());
                pod.exec("iptables", "-A", "OUTPUT", "-p", "tcp", "-d", host, "--dport", port, "-j", "DROP");
                pod.exec("iptables", "-A", "INPUT", "-p", "tcp", "-s", host, "--sport", port, "-j", "DROP");
            }
            // A namespace the injector knew: answered from the cache, at once.
            long started = System.nanoTime();
            SimulatedCluster.Created during = cluster.create(pod("meshed", "during", Map.of()));
            assertThat(isInjected(during.pod())).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));

            // A namespace it cannot have seen: refused before the webhook's 10 s timeout, naming the cause.
            namespace(client, "later", Map.of("trellis.dev/inject", "enabled"), Map.of());
            started = System.nanoTime();
            assertThatThrownBy(() -> cluster.create(pod("later", "web", Map.of())))
                    .hasMessageContaining("admission webhook \"namespaces.injector.trellis.dev\" denied the request")
                    .hasMessageContaining("cannot read the pod's namespace").hasMessageContaining("namespace later")
                    .hasMessageContaining("did not answer");
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertThat(took).isLessThan(Duration.ofSeconds(10));

            // And pods that did not opt in are never sent to it.
            namespace(client, "plain", Map.of(), Map.of());
            started = System.nanoTime();
            assertThat(cluster.create(pod("plain", "web", Map.of())).pod().getSpec().getInitContainers()).isNullOrEmpty();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
        }
    }

    private static boolean isInjected(Pod pod) {
        return Stream.concat(pod.getSpec().getContainers().stream(), Optional.ofNullable(pod.getSpec().getInitContainers()).orElse(List.of()).stream())
                .map(Container::getName).anyMatch("trellis-proxy"::equals);
    }

    private static void namespace(KubernetesClient client, String name, Map<String, String> labels, Map<String, String> annotations) {
        client.resource(new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels).withAnnotations(annotations).endMetadata().build()).create();
    }

    private static Pod pod(String namespace, String name, Map<String, String> labels) {
        return new PodBuilder().withNewMetadata().withName(name).withNamespace(namespace).withLabels(labels).endMetadata()
                .withNewSpec().addNewContainer().withName("app").withImage("test/app:1").addNewPort().withContainerPort(8080).endPort().endContainer()
                .endSpec().build();
    }

    private InstallOptions options() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        return InstallOptions.builder(dev.trellis.install.IdentityFiles.read(pki.trustAnchorFile(),
                        Optional.of(new dev.trellis.install.IdentityFiles.IssuerFiles(pki.issuerCertificateFile(), pki.issuerKeyFile())), Instant.now()))
                .webhook(Optional.of(InstallOptions.WebhookTls.generate("trellis", "cluster.local", Instant.now())))
                .build();
    }
}
