package dev.trellis.destination.translate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.destination.v1.Profile;
import dev.trellis.api.destination.v1.Route;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.manifest.ManifestParser;
import java.util.List;
import org.junit.jupiter.api.Test;

class GatewayRouteRulesTest {

    private static final String SERVICES = """
            apiVersion: v1
            kind: Service
            metadata: {namespace: shop, name: web}
            spec: {ports: [{name: http, port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {namespace: shop, name: web-v2}
            spec: {ports: [{name: http, port: 80}]}
            ---
            apiVersion: policy.trellis.dev/v1alpha1
            kind: HTTPRoute
            metadata: {namespace: shop, name: trellis-own}
            spec:
              parentRefs: [{kind: Service, name: web, port: 80}]
              rules: [{name: all, matches: [{path: {type: PathPrefix, value: /}}], timeout: 1s}]
            """;

    private static ClusterSnapshot snapshot(long generation, String yaml) throws Exception {
        ClusterSnapshot.Builder builder = new ClusterSnapshot.Builder();
        new ManifestParser().parse("state.yaml", SERVICES + "---\n" + yaml).forEach(builder::add);
        return builder.build(generation);
    }

    private static Profile profile(ClusterSnapshot snapshot, LastGoodRoutes routes, String callerNamespace) {
        return Profiles.of(snapshot, routes.of(snapshot), Target.resolve(snapshot, "web.shop.svc.cluster.local:80", "cluster.local"),
                callerNamespace, "cluster.local");
    }

    @Test
    void gatewayRoutesWinInPrecedenceOrderAndAMissingBackendKeepsItsShareUnresolved() throws Exception {
        ClusterSnapshot snapshot = snapshot(1, """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: split}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
                  rules:
                    - matches: [{path: {type: PathPrefix, value: /api}}, {path: {type: Exact, value: /login}}, {path: {type: PathPrefix, value: /api/v2}}]
                      backendRefs: [{name: web, port: 80, weight: 90}, {name: web-v2, port: 80, weight: 9}, {name: gone, port: 80, weight: 1}]
                """);
        Profile profile = profile(snapshot, new LastGoodRoutes(), "shop");
        assertThat(profile.getRoutesList()).extracting(r -> r.getCondition().getPath() + r.getCondition().getPathPrefix())
                .as("exact first, then the longest prefix").containsExactly("/login", "/api/v2", "/api");
        Route route = profile.getRoutes(0);
        assertThat(route.getKind()).isEqualTo("HTTPRoute");
        assertThat(route.getName()).isEqualTo("split");
        assertThat(route.getBackendsList()).extracting(b -> b.getAuthority() + "=" + b.getWeight())
                .containsExactly("web.shop.svc.cluster.local:80=90", "web-v2.shop.svc.cluster.local:80=9", "=1");
    }

    @Test
    void withoutGatewayRoutesTrellissOwnStayInForce() throws Exception {
        Profile profile = profile(snapshot(1, "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n"), new LastGoodRoutes(), "shop");
        assertThat(profile.getRoutesList()).extracting(Route::getName, Route::getKind).containsExactly(org.assertj.core.groups.Tuple.tuple("all", "TrellisRoute"));
    }

    @Test
    void aConsumerRouteAppliesToItsOwnNamespacesCallersOnly() throws Exception {
        ClusterSnapshot snapshot = snapshot(1, """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: producer}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
                  rules: [{backendRefs: [{name: web, port: 80}]}]
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: checkout, name: consumer}
                spec:
                  parentRefs: [{group: "", kind: Service, namespace: shop, name: web, port: 80}]
                  rules: [{timeouts: {request: 2s}}]
                """);
        LastGoodRoutes routes = new LastGoodRoutes();
        assertThat(profile(snapshot, routes, "checkout").getRoutesList()).extracting(Route::getName).containsExactly("consumer");
        assertThat(profile(snapshot, routes, "shop").getRoutesList()).extracting(Route::getName).containsExactly("producer");
        assertThat(profile(snapshot, routes, "elsewhere").getRoutesList()).extracting(Route::getName).containsExactly("producer");
    }

    @Test
    void aBadEditKeepsTheLastGoodVersionAndADeletionForgetsIt() throws Exception {
        String good = """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: split}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
                  rules: [{backendRefs: [{name: web-v2, port: 80, weight: %d}]}]
                """;
        LastGoodRoutes routes = new LastGoodRoutes();
        assertThat(profile(snapshot(1, good.formatted(5)), routes, "shop").getRoutes(0).getBackends(0).getWeight()).isEqualTo(5);
        ClusterSnapshot bad = snapshot(2, good.formatted(0));
        assertThat(bad.rejectedRoutes()).hasSize(1);
        assertThat(profile(bad, routes, "shop").getRoutes(0).getBackends(0).getWeight()).as("the last good version").isEqualTo(5);
        ClusterSnapshot deleted = snapshot(3, "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n");
        assertThat(routes.of(deleted)).isEmpty();
        assertThat(List.of(profile(snapshot(4, good.formatted(0)), routes, "shop").getRoutes(0).getKind())).containsExactly("TrellisRoute");
    }

    @Test
    void statusSaysWhyARouteDoesNothing() throws Exception {
        String route = """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: split, generation: %d}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}, {group: "", kind: Service, name: nowhere}]
                  rules: [{backendRefs: [{name: web-v2, port: 80, weight: %d}, {name: gone, port: 80}]}]
                """;
        LastGoodRoutes routes = new LastGoodRoutes();
        ClusterSnapshot first = snapshot(1, route.formatted(1, 5));
        var status = RouteStatuses.of(first, routes.of(first)).getFirst();
        assertThat(status.generation()).isEqualTo(1);
        assertThat(status.condition(0, "Accepted")).hasValueSatisfying(c -> assertThat(c.status()).isTrue());
        assertThat(status.condition(1, "Accepted")).hasValueSatisfying(c -> {
            assertThat(c.status()).isFalse();
            assertThat(c.reason()).isEqualTo("NoMatchingParent");
            assertThat(c.message()).isEqualTo("Service shop/nowhere does not exist");
        });
        assertThat(status.condition(0, "ResolvedRefs")).hasValueSatisfying(c -> {
            assertThat(c.reason()).isEqualTo("BackendNotFound");
            assertThat(c.message()).isEqualTo("spec.rules[0]: backend Service shop/gone does not exist; its share of requests is answered 500");
        });
        ClusterSnapshot bad = snapshot(2, route.formatted(2, 0).replace(", {name: gone, port: 80}", ""));
        var refused = RouteStatuses.of(bad, routes.of(bad)).getFirst();
        assertThat(refused.generation()).isEqualTo(2);
        assertThat(refused.condition(0, "Accepted")).hasValueSatisfying(c -> {
            assertThat(c.reason()).isEqualTo("UnsupportedValue");
            assertThat(c.message()).endsWith("the weights sum to zero, so no request could go anywhere; the last version that could be carried out stays in force");
        });
    }

    @Test
    void aTcpRouteSplitsOpaqueConnectionsAndIsNoRequestRoute() throws Exception {
        ClusterSnapshot snapshot = snapshot(1, """
                apiVersion: gateway.networking.k8s.io/v1alpha2
                kind: TCPRoute
                metadata: {namespace: shop, name: tcp-split}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
                  rules: [{backendRefs: [{name: web, port: 80, weight: 3}, {name: web-v2, port: 80, weight: 1}]}]
                """);
        Profile profile = profile(snapshot, new LastGoodRoutes(), "shop");
        assertThat(profile.getOpaqueBackendsList()).extracting(b -> b.getAuthority() + "=" + b.getWeight())
                .containsExactly("web.shop.svc.cluster.local:80=3", "web-v2.shop.svc.cluster.local:80=1");
        assertThat(profile.getRoutesList()).as("no request routes from it: Trellis's own stay").extracting(Route::getKind).containsExactly("TrellisRoute");
    }
}
