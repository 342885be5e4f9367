package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trellis.install.check.CheckOptions;
import dev.trellis.install.check.CheckReport;
import dev.trellis.install.check.ClusterCheck;
import dev.trellis.testing.cluster.GatewayApiCrds;
import dev.trellis.testing.cluster.ImageCatalog;
import dev.trellis.testing.cluster.RunningPod;
import dev.trellis.testing.cluster.SimulatedCluster;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 24 on a simulated cluster: the Gateway API's CRDs applied as a user applies them, the
 * control plane installed, meshed pods of two versions behind two Services; an HTTPRoute on
 * the first steers the injected caller's calls (all to v2, then half and half), the installed
 * destination service writes the route's status through the status subresource (Accepted,
 * ResolvedRefs; a missing backend named; a bad edit refused while the last good version keeps
 * carrying traffic), and {@code trellis check} reports the release and the refused route.
 */
class RoutesOnKubernetesTest {

    private static final String NS = "emojivoto";

    @TempDir
    Path dir;

    @Test
    void anHttpRouteSteersMeshedCallsAndItsStatusSaysWhy() throws Exception {
        assumeTrue(SimulatedCluster.available(), "needs root, ip, setpriv and mount (CI runs as root)");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/iptables")), "needs iptables (.ci/run installs it)");
        ImageCatalog images = Distribution.images().with(SampleApp.image());
        try (SimulatedCluster cluster = SimulatedCluster.start(dir.resolve("cluster"), images)) {
            KubernetesClient client = cluster.client();
            // The user's part: the Gateway API's CRDs (Trellis never installs them).
            GatewayApiCrds.standard("v1.3.0").forEach(crd -> client.apiextensions().v1().customResourceDefinitions().resource(crd).create());
            SampleApp.installControlPlane(cluster, SampleApp.installOptions(dir, b -> b), List.of(SimulatedCluster.DEFAULT_NODE));

            client.resource(new NamespaceBuilder().withNewMetadata().withName(NS).addToLabels("trellis.dev/inject", "enabled").endMetadata().build()).create();
            for (String account : List.of("web", "emoji", "emoji-v2")) {
                client.resource(new ServiceAccountBuilder().withNewMetadata().withName(account).withNamespace(NS).endMetadata().build()).create();
            }
            // Cluster IPs as the API server would allocate them (the simulated one does not): the apps call the Services through them.
            Map<String, String> clusterIps = Map.of("emoji", "10.96.77.20", "emoji-v2", "10.96.77.21");
            for (String app : List.of("emoji", "emoji-v2")) {
                client.resource(new ServiceBuilder().withNewMetadata().withName(app + "-svc").withNamespace(NS).endMetadata()
                        .withNewSpec().withClusterIP(clusterIps.get(app)).addToSelector("app", app)
                        .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString("http")).endPort().endSpec().build()).create();
            }
            RunningPod v1 = cluster.deploy(SampleApp.deployment(NS, "emoji", Map.of())).getFirst();
            RunningPod v2 = cluster.deploy(SampleApp.deployment(NS, "emoji-v2", Map.of())).getFirst();
            RunningPod web = cluster.deploy(SampleApp.deployment(NS, "web", Map.of())).getFirst();
            for (RunningPod pod : List.of(v1, v2, web)) {
                pod.awaitReady(Duration.ofSeconds(120));
            }
            String url = "http://emoji-svc." + NS + ".svc.cluster.local/";
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).untilAsserted(() ->
                    assertThat(SampleApp.call(web, url)).contains("hello from " + v1.name()));

            // All of web's calls to emoji-svc go to v2.
            route(client, 0, 100, "emoji-v2-svc");
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                    assertThat(SampleApp.run(web, "call", url, "10")).contains("hello from " + v2.name()).doesNotContain("hello from " + v1.name()));
            // Its status, written by the installed destination service: carried out, every backend resolved.
            Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                RouteParentStatus ours = ourStatus(client).orElseThrow();
                assertThat(ours.getParentRef().getName()).isEqualTo("emoji-svc");
                assertThat(ours.getConditions()).extracting(c -> c.getType() + "=" + c.getStatus() + " " + c.getReason())
                        .containsExactly("Accepted=True Accepted", "ResolvedRefs=True ResolvedRefs");
            });

            // Half and half: both versions answer.
            route(client, 50, 50, "emoji-v2-svc");
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                    assertThat(SampleApp.run(web, "call", url, "30")).contains("hello from " + v2.name()).contains("hello from " + v1.name()));

            // A backend that does not exist: the status names it.
            route(client, 50, 50, "emoji-v3-svc");
            Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(ourStatus(client).orElseThrow().getConditions())
                    .filteredOn(c -> c.getType().equals("ResolvedRefs")).singleElement()
                    .satisfies(c -> {
                        assertThat(c.getStatus()).isEqualTo("False");
                        assertThat(c.getReason()).isEqualTo("BackendNotFound");
                        assertThat(c.getMessage()).contains("backend Service emojivoto/emoji-v3-svc does not exist");
                    }));

            // A bad edit (weights that sum to zero) is refused, and the last good version keeps carrying the calls.
            route(client, 0, 100, "emoji-v2-svc");
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                    assertThat(SampleApp.run(web, "call", url, "10")).doesNotContain("hello from " + v1.name()));
            route(client, 0, 0, "emoji-v2-svc");
            Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(ourStatus(client).orElseThrow().getConditions())
                    .filteredOn(c -> c.getType().equals("Accepted")).singleElement()
                    .satisfies(c -> {
                        assertThat(c.getStatus()).isEqualTo("False");
                        assertThat(c.getReason()).isEqualTo("UnsupportedValue");
                        assertThat(c.getMessage()).contains("the weights sum to zero").contains("the last version that could be carried out stays in force");
                    }));
            assertThat(SampleApp.run(web, "call", url, "10")).contains("hello from " + v2.name()).doesNotContain("hello from " + v1.name());

            CheckReport report = ClusterCheck.run(client, CheckOptions.defaults(), java.time.Clock.systemUTC());
            assertThat(report.text()).contains("httproutes.gateway.networking.k8s.io CRD serves gateway.networking.k8s.io/v1: v1.3.0 (standard channel)")
                    .contains("HTTPRoute " + NS + "/emoji-split Accepted UnsupportedValue");
        }
    }

    /** Writes the HTTPRoute on emoji-svc: {@code v1Weight} to emoji-svc itself, {@code otherWeight} to {@code other}. */
    private static void route(KubernetesClient client, int v1Weight, int otherWeight, String other) {
        HTTPRoute route = new HTTPRouteBuilder().withNewMetadata().withNamespace(NS).withName("emoji-split").endMetadata()
                .withNewSpec().addNewParentRef().withGroup("").withKind("Service").withName("emoji-svc").withPort(80).endParentRef()
                .addNewRule()
                .addNewBackendRef().withName("emoji-svc").withPort(80).withWeight(v1Weight).endBackendRef()
                .addNewBackendRef().withName(other).withPort(80).withWeight(otherWeight).endBackendRef()
                .endRule().endSpec().build();
        // The destination service writes the status meanwhile: an update that loses that race is made again.
        Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
            HTTPRoute existing = client.resources(HTTPRoute.class).inNamespace(NS).withName("emoji-split").get();
            if (existing == null) {
                client.resource(route).create();
            } else {
                existing.setSpec(route.getSpec());
                client.resource(existing).update();
            }
            return true;
        });
    }

    private static Optional<RouteParentStatus> ourStatus(KubernetesClient client) {
        HTTPRoute route = client.resources(HTTPRoute.class).inNamespace(NS).withName("emoji-split").get();
        if (route == null || route.getStatus() == null || route.getStatus().getParents() == null) {
            return Optional.empty();
        }
        return route.getStatus().getParents().stream().filter(p -> "trellis.dev/destination".equals(p.getControllerName())).findFirst();
    }
}
