package dev.trellis.benchmarks;

import dev.trellis.testing.TestPki;
import dev.trellis.testing.cluster.ImageCatalog;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.ServingCertificates;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code bench/injector-memory.sh} runs the injector against: fabric8's mock API server
 * (CRUD) holding {@code <namespaces>} namespaces, half of them opted in, each with the labels
 * and annotations a real one carries; the injector's kubeconfig, serving certificate and
 * trust anchors; an AdmissionReview of a Deployment's pod as the API server sends it; and the
 * injector's command line as the controller image runs it (from the Dockerfile, the JDK and
 * the packaged distribution in place of the image's: files {@code jvm} and {@code args}, the
 * caller adds the listeners). Writes them into a directory, then serves until killed.
 *
 * <p>Usage: {@code BenchInjector <dir> <repository root> <namespaces>}.
 */
public final class BenchInjector {

    private BenchInjector() {}

    public static void main(String[] args) throws Exception {
        Path dir = Files.createDirectories(Path.of(args[0]));
        Path root = Path.of(args[1]);
        int namespaces = Integer.parseInt(args[2]);
        Map<io.fabric8.mockwebserver.ServerRequest, java.util.Queue<io.fabric8.mockwebserver.ServerResponse>> expectations = new HashMap<>();
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), expectations,
                new KubernetesMixedDispatcher(expectations), false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        server.setVersionInfo(new VersionInfo.Builder().withMajor("1").withMinor("31").withGitVersion("v1.31.2-bench").build());
        KubernetesClient client = server.createClient();
        for (int i = 0; i < namespaces; i++) {
            Map<String, String> labels = new HashMap<>(Map.of("team", "team-" + (i % 17), "env", i % 3 == 0 ? "prod" : "dev"));
            if (i % 2 == 0) {
                labels.put("trellis.dev/inject", "enabled");
            }
            client.resource(new NamespaceBuilder().withNewMetadata().withName("ns-" + i).withLabels(labels)
                    .withAnnotations(Map.of("config.trellis.dev/proxy-log-level", "info", "owner", "someone@example.org")).endMetadata().build()).create();
        }
        Files.writeString(dir.resolve("kubeconfig"), """
                apiVersion: v1
                kind: Config
                clusters: [{name: bench, cluster: {server: "%s"}}]
                users: [{name: bench, user: {token: bench}}]
                contexts: [{name: bench, context: {cluster: bench, user: bench, namespace: default}}]
                current-context: bench
                """.formatted(client.getMasterUrl().toString()));
        CaCredentials ca = ServingCertificates.newCa("webhook.bench", Duration.ofDays(30), Instant.now());
        ServingCertificates.Serving serving = ServingCertificates.issue(ca, List.of("localhost"), Duration.ofDays(30), Instant.now());
        Files.writeString(dir.resolve("tls.crt"), Pem.encodeCertificates(List.of(serving.certificate())));
        Files.writeString(dir.resolve("tls.key"), Pem.encodePrivateKey(serving.key()));
        TestPki pki = TestPki.create(dir.resolve("pki"));
        Files.writeString(dir.resolve("review.json"), new KubernetesSerialization().asJson(review(pod())));

        ImageCatalog.Image controller = ImageCatalog.read(root.resolve("images/Dockerfile"), root,
                Map.of("runtime:/opt/trellis-runtime", Path.of(System.getProperty("java.home")), "proxy-aot:/opt/trellis/proxy.aot", Path.of("/dev/null")))
                .image("controller");
        List<String> command = new ArrayList<>();
        for (String word : controller.entrypoint()) {
            command.add(word.replace("/opt/java/bin/java", Path.of(System.getProperty("java.home"), "bin", "java").toString())
                    .replace("/opt/trellis/trellis-cli.jar:/opt/trellis/lib/*", root.resolve("cli/target/trellis-cli.jar") + ":" + root.resolve("cli/target/lib") + "/*"));
        }
        Files.writeString(dir.resolve("jvm"), String.join(" ", command.subList(0, command.indexOf("dev.trellis.cli.Main"))) + "\n");
        Files.writeString(dir.resolve("args"), String.join(" ", List.of("dev.trellis.cli.Main", "injector", "--trust-anchors", pki.trustAnchorFile().toString(),
                "--tls-cert", dir.resolve("tls.crt").toString(), "--tls-key", dir.resolve("tls.key").toString(), "--native-sidecar", "auto")) + "\n");
        System.out.println("bench api server ready: " + client.getMasterUrl() + ", " + namespaces + " namespaces; files in " + dir);
        Thread.currentThread().join();
    }

    /** A Deployment's pod as the API server sends it to the webhook: several containers, env, volumes, probes. */
    private static Pod pod() {
        PodBuilder pod = new PodBuilder().withNewMetadata().withGenerateName("web-7d4b9c-").withNamespace("ns-0")
                .withLabels(Map.of("app", "web", "pod-template-hash", "7d4b9c")).addToAnnotations("prometheus.io/scrape", "true").endMetadata()
                .withNewSpec().withServiceAccountName("web").endSpec();
        for (int c = 0; c < 3; c++) {
            pod.editSpec().addNewContainer().withName("app-" + c).withImage("registry.example/web:1.2." + c)
                    .addNewPort().withName("http-" + c).withContainerPort(8080 + c).endPort()
                    .addNewEnv().withName("MODE").withValue("production").endEnv()
                    .addNewEnv().withName("POD_NAME").withNewValueFrom().withNewFieldRef().withFieldPath("metadata.name").endFieldRef().endValueFrom().endEnv()
                    .withNewReadinessProbe().withNewHttpGet().withPath("/ready").withNewPort(8080 + c).endHttpGet().endReadinessProbe()
                    .addNewVolumeMount().withName("config").withMountPath("/etc/web").endVolumeMount()
                    .endContainer().endSpec();
        }
        return pod.editSpec().addNewVolume().withName("config").withNewConfigMap().withName("web-config").endConfigMap().endVolume().endSpec().build();
    }

    private static io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview review(Pod pod) {
        return new AdmissionReviewBuilder().withApiVersion("admission.k8s.io/v1").withKind("AdmissionReview")
                .withNewRequest().withUid("b0b6a0e4-1c1e-4a8a-9a39-3c7b1a1b2c3d")
                    .withKind(new io.fabric8.kubernetes.api.model.GroupVersionKindBuilder().withGroup("").withVersion("v1").withKind("Pod").build())
                    .withResource(new io.fabric8.kubernetes.api.model.GroupVersionResourceBuilder().withGroup("").withVersion("v1").withResource("pods").build())
                    .withNamespace("ns-0").withOperation("CREATE").withDryRun(false).withObject(pod)
                    .withNewUserInfo().withUsername("system:serviceaccount:kube-system:replicaset-controller").endUserInfo()
                .endRequest().build();
    }
}
