package dev.trellis.cluster.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.routes.MeshRoute;
import dev.trellis.cluster.routes.RouteStatus;
import dev.trellis.testing.cluster.GatewayApiCrds;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** The Gateway API's routes from an API server that serves their CRDs, and their status written back through the status subresource. */
@EnableKubernetesMockClient(crud = true)
class GatewayRoutesOnKubernetesTest {

    KubernetesClient client;

    @Test
    void withoutTheCrdsTheSourceSaysSoAndStillSyncs() {
        try (KubernetesClusterSource source = KubernetesClusterSource.start(client, Duration.ofMillis(20))) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(source::synced);
            assertThat(source.gatewayApi()).hasValueSatisfying(text -> assertThat(text).contains("httproutes (gateway.networking.k8s.io/v1)")
                    .contains("grpcroutes (gateway.networking.k8s.io/v1)").contains("tcproutes (gateway.networking.k8s.io/v1alpha2)").contains("not served"));
        }
    }

    @Test
    void readsRoutesOnceTheCrdsAreServedAndWritesOnlyItsOwnStatusEntries() throws Exception {
        GatewayApiCrds.standard("v1.3.0").forEach(crd -> client.apiextensions().v1().customResourceDefinitions().resource(crd).create());
        client.apiextensions().v1().customResourceDefinitions().resource(GatewayApiCrds.experimentalTcpRoute("v1.3.0")).create();
        HTTPRoute route = new HTTPRouteBuilder().withNewMetadata().withNamespace("shop").withName("web-split").withGeneration(2L).endMetadata()
                .withNewSpec().addNewParentRef().withGroup("").withKind("Service").withName("web").withPort(80).endParentRef()
                .addNewParentRef().withName("public-gateway").endParentRef()
                .addNewRule().addNewBackendRef().withName("web-v2").withPort(80).endBackendRef().endRule().endSpec()
                .withNewStatus().addToParents(new RouteParentStatusBuilder().withControllerName("example.net/gateway")
                        .withNewParentRef().withName("public-gateway").endParentRef()
                        .withConditions(new ConditionBuilder().withType("Accepted").withStatus("True").withReason("Accepted").build()).build())
                .endStatus().build();
        // As on a real API server, status is not taken on create: the gateway's controller writes its entry through the subresource.
        HTTPRoute created = client.resources(HTTPRoute.class).inNamespace("shop").resource(route).create();
        created.setStatus(route.getStatus());
        client.resources(HTTPRoute.class).inNamespace("shop").resource(created).updateStatus();
        try (KubernetesClusterSource source = KubernetesClusterSource.start(client, Duration.ofMillis(20))) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(source.current().meshRoutes())
                    .extracting(r -> r.key().id()).containsExactly(new ObjectKey("shop", "web-split")));
            assertThat(source.gatewayApi()).isEmpty();

            MeshRoute.ServiceParent parent = source.current().meshRoutes().iterator().next().parents().getFirst();
            RouteStatus status = new RouteStatus(new MeshRoute.RouteKey(MeshRoute.Kind.HTTP_ROUTE, new ObjectKey("shop", "web-split")), 2, List.of(
                    new RouteStatus.Parent(parent, List.of(new RouteStatus.Condition("Accepted", true, "Accepted", "carried out"),
                            new RouteStatus.Condition("ResolvedRefs", false, "BackendNotFound", "backend Service shop/web-v2 does not exist")))));
            source.routeStatus().orElseThrow().publish(List.of(status));
            Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                HTTPRoute written = client.resources(HTTPRoute.class).inNamespace("shop").withName("web-split").get();
                assertThat(written.getStatus().getParents()).hasSize(2);
                assertThat(written.getStatus().getParents().getFirst().getControllerName()).as("the gateway's entry is kept").isEqualTo("example.net/gateway");
                var ours = written.getStatus().getParents().get(1);
                assertThat(ours.getControllerName()).isEqualTo(RouteStatus.CONTROLLER);
                assertThat(ours.getParentRef().getKind()).isEqualTo("Service");
                assertThat(ours.getParentRef().getPort()).isEqualTo(80);
                assertThat(ours.getConditions()).extracting(c -> c.getType() + "=" + c.getStatus() + " " + c.getReason() + " @" + c.getObservedGeneration())
                        .containsExactly("Accepted=True Accepted @2", "ResolvedRefs=False BackendNotFound @2");
            });
        }
    }

    @Test
    void theDestinationMayWriteNothingButRouteStatus() {
        assertThat(RouteStatus.STATUS_SUBRESOURCES).allSatisfy(r -> assertThat(r).endsWith("/status"));
        assertThat(WatchedResource.GATEWAY_ROUTES.resources()).containsExactly("httproutes", "grpcroutes", "tcproutes");
        assertThat(Optional.of(WatchedResource.GATEWAY_ROUTES.apiGroup())).contains(GatewayApiCrds.GROUP);
    }
}
