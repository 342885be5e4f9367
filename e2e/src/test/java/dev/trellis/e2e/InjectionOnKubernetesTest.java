package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trellis.install.check.CheckOptions;
import dev.trellis.install.check.CheckReport;
import dev.trellis.install.check.ClusterCheck;
import dev.trellis.install.check.Outcome;
import dev.trellis.viz.MetricsWindow;
import dev.trellis.viz.StatRow;
import dev.trellis.testing.cluster.ImageCatalog;
import dev.trellis.testing.cluster.RunningPod;
import dev.trellis.testing.cluster.SimulatedCluster;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11's whole path on a simulated cluster: the installed injector (a pod of the
 * packaged distribution, behind its MutatingWebhookConfiguration, called over HTTPS and
 * verified against its caBundle as the API server calls it) injects the pods of two
 * Deployments; their proxy-init containers write iptables rules in the pods' network
 * namespaces with only NET_ADMIN and NET_RAW; their proxies run as native sidecars as uid
 * 2102. An app then calls the other's Service by its clusterIP — which nothing but the mesh
 * serves — over HTTP and gRPC through both proxies over mTLS (viz reading emoji's proxy metrics
 * as the proxy writes them: a contract between the two), emoji's proxy counting web's identity; a
 * plaintext kubelet probe passes a pod whose default policy refuses other plaintext; a pod of
 * a namespace that did not opt in is left alone, and reaches meshed pods only as their policies allow;
 * proxy-init run twice leaves the rules as they were; a pod opting out of native sidecars gets
 * the proxy as its first container, whose postStart hook waits for it; and a Job's pod
 * finishes, its sidecar stopped after it.
 */
class InjectionOnKubernetesTest {

    private static final String NS = "emojivoto";

    @TempDir
    Path dir;

    @Test
    void injectedPodsTalkThroughTheirProxiesAndJobsFinish() throws Exception {
        assumeTrue(SimulatedCluster.available(), "needs root, ip, setpriv and mount (CI runs as root)");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/iptables")), "needs iptables (.ci/run installs it)");
        ImageCatalog images = Distribution.images().with(SampleApp.image());
        try (SimulatedCluster cluster = SimulatedCluster.start(dir.resolve("cluster"), images)) {
            KubernetesClient client = cluster.client();
            SampleApp.installControlPlane(cluster, SampleApp.installOptions(dir, b -> b), List.of(SimulatedCluster.DEFAULT_NODE));

            client.resource(new NamespaceBuilder().withNewMetadata().withName(NS).addToLabels("trellis.dev/inject", "enabled").endMetadata().build()).create();
            for (String account : List.of("web", "emoji", "vote", "report")) {
                client.resource(new ServiceAccountBuilder().withNewMetadata().withName(account).withNamespace(NS).endMetadata().build()).create();
            }
            String clusterIp = "10.96.77.10";
            client.resource(new ServiceBuilder().withNewMetadata().withName("emoji-svc").withNamespace(NS).endMetadata()
                    .withNewSpec().withClusterIP(clusterIp).addToSelector("app", "emoji")
                    .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString("http")).endPort()
                    .addNewPort().withName("grpc").withPort(9090).withTargetPort(new IntOrString("grpc")).endPort().endSpec().build()).create();

            // emoji admits plaintext only on its probe paths; web keeps the cluster's default.
            RunningPod emoji = cluster.deploy(SampleApp.deployment(NS, "emoji", Map.of("config.trellis.dev/default-inbound-policy", "all-authenticated"))).getFirst();
            RunningPod web = cluster.deploy(SampleApp.deployment(NS, "web", Map.of())).getFirst();
            emoji.awaitReady(Duration.ofSeconds(120));
            web.awaitReady(Duration.ofSeconds(120));

            // The webhook injected both, as native sidecars after proxy-init.
            Pod stored = client.pods().inNamespace(NS).withName(web.name()).get();
            assertThat(stored.getSpec().getInitContainers()).extracting(Container::getName).containsExactly("trellis-init", "trellis-proxy");
            assertThat(stored.getMetadata().getAnnotations()).containsKey("trellis.dev/proxy-version");
            Distribution.ProcessView proxy = Distribution.process(List.of("dev.trellis.cli.Main proxy"));
            assertThat(proxy.uid()).isEqualTo(2102);
            assertThat(proxy.readOnlyRoot()).isTrue();
            assertThat(emoji.exec("iptables-save", "-t", "nat")).contains("TRELLIS_INBOUND").contains("TRELLIS_OUTBOUND").contains("--uid-owner 2102");

            // check --proxy sees both proxies ready, of this version.
            CheckReport report = ClusterCheck.run(client, CheckOptions.defaults().withProxies(true), java.time.Clock.systemUTC());
            CheckReport.Category dataPlane = report.categories().stream().filter(c -> c.name().equals("data-plane")).findFirst().orElseThrow();
            assertThat(dataPlane.results()).as(report.text()).allSatisfy(r -> assertThat(r.outcome()).isEqualTo(Outcome.OK));
            assertThat(report.text()).contains("meshed pods exist (2)");

            // What viz reads is what the proxy writes: emoji's metrics, scraped before and after the calls, feed viz's window.
            MetricsWindow window = new MetricsWindow(Duration.ofMinutes(5));
            String emojiKey = NS + "/" + emoji.name();
            window.record(emojiKey, Instant.now(), metricsOf(emoji));

            // web calls emoji's clusterIP: only web's proxy knows where that is, and emoji's proxy sees web's identity.
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            String target = URLEncoder.encode("http://emoji-svc." + NS + ".svc.cluster.local/", StandardCharsets.UTF_8);
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).ignoreExceptions().untilAsserted(() -> {
                HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://" + web.address() + ":8080/call?url=" + target))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
                assertThat(answer.body()).isEqualTo("hello from " + emoji.name() + " to spiffe://cluster.local/ns/" + NS + "/sa/web\n");
            });

            // gRPC too, to the same clusterIP's gRPC port, from a process in web's pod.
            assertThat(SampleApp.run(web, "grpc-call", "emoji-svc." + NS + ".svc.cluster.local:9090", "2"))
                    .contains("grpc 1: grpc hello from " + emoji.name() + " to spiffe://cluster.local/ns/" + NS + "/sa/web");

            Thread.sleep(1100);
            window.record(emojiKey, Instant.now(), metricsOf(emoji));
            StatRow row = window.stat(NS, "Deployment", "emoji", List.of(emojiKey), 1, Duration.ofMinutes(5), Instant.now());
            assertThat(row.successRate()).as("%s", row).isEqualTo(1.0);
            assertThat(row.rps()).isPositive();
            assertThat(row.secured()).isTrue();
            assertThat(window.edges(List.of(emojiKey), Duration.ofMinutes(5), Instant.now()))
                    .anySatisfy(edge -> assertThat(edge.clientId()).isEqualTo("spiffe://cluster.local/ns/" + NS + "/sa/web"));

            // The proxies' metrics (on each pod's loopback admin listener): emoji's counts the call under web's identity,
            // web's counts it as a success to the clusterIP.
            assertThat(SampleApp.call(emoji, "http://127.0.0.1:4191/metrics")).contains("client_id=\"spiffe://cluster.local/ns/" + NS + "/sa/web\"")
                    .contains("peer_id=\"spiffe://cluster.local/ns/" + NS + "/sa/web\",tls=\"true\"");
            assertThat(SampleApp.call(web, "http://127.0.0.1:4191/metrics"))
                    .contains("response_total{authority=\"" + clusterIp + ":80\",classification=\"success\",direction=\"outbound\",status_code=\"200\"}");

            // Plaintext from outside the mesh: emoji's probe path passes (that is how it became ready), anything else is refused.
            HttpResponse<String> probe = http.send(HttpRequest.newBuilder(URI.create("http://" + emoji.address() + ":8080/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(probe.statusCode()).isEqualTo(200);
            HttpResponse<String> other = http.send(HttpRequest.newBuilder(URI.create("http://" + emoji.address() + ":8080/secret")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(other.statusCode()).as(other.body()).isEqualTo(403);

            // proxy-init again in the same pod: the rules stay exactly as they were.
            String before = rules(emoji);
            List<String> initArgs = stored.getSpec().getInitContainers().getFirst().getArgs();
            List<String> again = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                    Distribution.ROOT.resolve("cli/target/trellis-cli.jar") + ":" + Distribution.ROOT.resolve("cli/target/lib") + "/*", "dev.trellis.cli.Main"));
            again.addAll(initArgs);
            emoji.exec(again.toArray(String[]::new));
            assertThat(rules(emoji)).isEqualTo(before);

            // Where native sidecars are off, the proxy is the first container and its postStart hook holds the app back until it is ready.
            // Its own init container (a peer clone, a fetch) calls web's pod as it could before injection: it runs before the
            // redirect, while no proxy runs yet (before the fix it ran after the redirect, and its connections were refused).
            Deployment vote = SampleApp.deployment(NS, "vote", Map.of("config.trellis.dev/proxy-native-sidecar", "false"));
            vote.getSpec().getTemplate().getSpec().setInitContainers(List.of(SampleApp.initCall("fetch-peer", "http://" + web.address() + ":8080/")));
            RunningPod classic = cluster.deploy(vote).getFirst();
            classic.awaitReady(Duration.ofSeconds(120));
            Pod classicPod = client.pods().inNamespace(NS).withName(classic.name()).get();
            assertThat(classicPod.getSpec().getContainers()).extracting(Container::getName).containsExactly("trellis-proxy", "app");
            assertThat(classicPod.getSpec().getInitContainers()).extracting(Container::getName).containsExactly("fetch-peer", "trellis-init");
            assertThat(classic.logTail("fetch-peer")).contains("call 0: 200 hello from " + web.name());
            assertThat(Files.readString(classic.log("trellis-proxy-poststart"))).contains("is ready");

            // A pod of a namespace that did not ask is left alone.
            client.resource(new NamespaceBuilder().withNewMetadata().withName("plain").endMetadata().build()).create();
            RunningPod loner = cluster.run(new PodBuilder().withNewMetadata().withName("loner").withNamespace("plain").addToLabels("app", "loner").endMetadata()
                    .withSpec(SampleApp.spec("default", "serve")).build());
            assertThat(client.pods().inNamespace("plain").withName("loner").get().getSpec().getInitContainers()).isNullOrEmpty();
            loner.awaitReady(Duration.ofSeconds(60));
            // It reaches emoji only as emoji's default policy (all-authenticated) allows: not at all, but for probe paths.
            assertThat(SampleApp.call(loner, "http://" + emoji.address() + ":8080/")).contains("call 0: 403").contains("policy denied");
            assertThat(SampleApp.call(loner, "http://" + web.address() + ":8080/")).contains("call 0: 200 hello from " + web.name() + "\n");

            // A Job's pod: the work runs through the proxy, then the pod finishes and its sidecar stops.
            PodSpec jobSpec = SampleApp.spec("report", "call", "http://emoji-svc." + NS + ".svc.cluster.local/", "3");
            jobSpec.setRestartPolicy("Never");
            jobSpec.getContainers().getFirst().setReadinessProbe(null);
            // Native form: its init container runs after the proxy is ready, meshed: it reaches the clusterIP only the mesh serves.
            jobSpec.setInitContainers(List.of(SampleApp.initCall("warm-up", "http://emoji-svc." + NS + ".svc.cluster.local/")));
            RunningPod job = cluster.run(new PodBuilder().withNewMetadata().withName("report-0").withNamespace(NS).addToLabels("app", "report").endMetadata()
                    .withSpec(jobSpec).build());
            assertThat(job.awaitCompletion(Duration.ofSeconds(120))).as(job.logTail("app")).containsEntry("app", 0);
            assertThat(job.isRunning("trellis-proxy")).isFalse();
            assertThat(job.logTail("app")).contains("call 2: 200 hello from " + emoji.name() + " to spiffe://cluster.local/ns/" + NS + "/sa/report");
            assertThat(job.logTail("warm-up")).contains("call 0: 200 hello from " + emoji.name() + " to spiffe://cluster.local/ns/" + NS + "/sa/report");
        }
    }

    /** The proxy's metrics text, from its admin listener on the pod's loopback. */
    private static String metricsOf(RunningPod pod) throws Exception {
        String output = SampleApp.call(pod, "http://127.0.0.1:4191/metrics");
        assertThat(output).startsWith("call 0: 200 ");
        return output.substring("call 0: 200 ".length());
    }

    private static String rules(RunningPod pod) throws Exception {
        return String.join("\n", pod.exec("iptables-save", "-t", "nat").lines()
                .filter(l -> !l.startsWith("#")).map(l -> l.replaceAll("\\[\\d+:\\d+\\]", "")).toList());
    }

}
