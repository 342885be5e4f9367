package dev.trellis.cluster.routes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.manifest.ManifestParser;
import dev.trellis.cluster.routes.MeshRoute.Filter;
import dev.trellis.cluster.routes.MeshRoute.MatchType;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GatewayRoutesTest {

    private static ClusterSnapshot snapshot(String yaml) throws Exception {
        ClusterSnapshot.Builder builder = new ClusterSnapshot.Builder();
        new ManifestParser().parse("routes.yaml", yaml).forEach(builder::add);
        return builder.build(1);
    }

    @Test
    void readsAnHttpRouteOnAServiceWithMatchesFiltersBackendsAndTimeouts() throws Exception {
        ClusterSnapshot snapshot = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: web-canary, generation: 3}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}, {name: public-gateway}]
                  rules:
                    - matches:
                        - path: {type: PathPrefix, value: /api/}
                          method: GET
                          headers: [{name: X-Canary, value: "yes"}]
                          queryParams: [{type: RegularExpression, name: v, value: "[0-9]+"}]
                      filters:
                        - type: RequestHeaderModifier
                          requestHeaderModifier: {set: [{name: X-Route, value: canary}], remove: [X-Debug]}
                        - type: URLRewrite
                          urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2/}}
                      backendRefs: [{name: web-v1, port: 80, weight: 90}, {name: web-v2, port: 80, weight: 10}]
                      timeouts: {request: 2s, backendRequest: 500ms}
                """);
        assertThat(snapshot.problems()).isEmpty();
        MeshRoute route = snapshot.meshRoutes().iterator().next();
        assertThat(route.key()).isEqualTo(new MeshRoute.RouteKey(MeshRoute.Kind.HTTP_ROUTE, new ObjectKey("shop", "web-canary")));
        assertThat(route.generation()).isEqualTo(3);
        assertThat(route.parents()).containsExactly(new MeshRoute.ServiceParent(0, new ObjectKey("shop", "web"), Optional.of(80)));
        MeshRoute.Rule rule = route.rules().getFirst();
        MeshRoute.Match match = rule.matches().getFirst();
        assertThat(match.path()).contains(new MeshRoute.PathMatch(MatchType.PREFIX, "/api"));
        assertThat(match.method()).contains("GET");
        assertThat(match.headers()).containsExactly(new MeshRoute.ValueMatch("x-canary", MatchType.EXACT, "yes"));
        assertThat(match.queryParams()).containsExactly(new MeshRoute.ValueMatch("v", MatchType.REGEX, "[0-9]+"));
        assertThat(rule.filters()).hasSize(2).first().isInstanceOf(Filter.RequestHeaders.class);
        assertThat(rule.backends()).extracting(MeshRoute.Backend::weight).containsExactly(90, 10);
        assertThat(rule.requestTimeout()).contains(Duration.ofSeconds(2));
        assertThat(rule.backendTimeout()).contains(Duration.ofMillis(500));
    }

    @Test
    void aGrpcMethodMatchBecomesThePathItStandsFor() throws Exception {
        ClusterSnapshot snapshot = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: GRPCRoute
                metadata:
                  namespace: emojivoto
                  name: emoji
                  annotations: {retry.trellis.dev/grpc: "unavailable,deadline-exceeded", retry.trellis.dev/limit: "2", timeout.trellis.dev/request: 1s}
                spec:
                  parentRefs: [{group: "", kind: Service, name: emoji-svc, port: 8080}]
                  rules:
                    - matches: [{method: {service: emojivoto.v1.EmojiService, method: ListAll}}, {method: {service: emojivoto.v1.EmojiService}}]
                      backendRefs: [{name: emoji-v2-svc, port: 8080}]
                """);
        MeshRoute.Rule rule = snapshot.meshRoutes().iterator().next().rules().getFirst();
        assertThat(rule.matches()).extracting(MeshRoute.Match::path).containsExactly(
                Optional.of(new MeshRoute.PathMatch(MatchType.EXACT, "/emojivoto.v1.EmojiService/ListAll")),
                Optional.of(new MeshRoute.PathMatch(MatchType.PREFIX, "/emojivoto.v1.EmojiService")));
        assertThat(rule.retry()).hasValueSatisfying(retry -> {
            assertThat(retry.attempts()).isEqualTo(2);
            assertThat(retry.grpcCodes()).containsExactlyInAnyOrder(14, 4);
        });
        assertThat(rule.requestTimeout()).contains(Duration.ofSeconds(1));
    }

    @Test
    void aRouteOfAGatewayIsNotTheMeshs() throws Exception {
        ClusterSnapshot snapshot = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: ingress}
                spec:
                  parentRefs: [{name: public-gateway}]
                  rules: [{backendRefs: [{name: web, port: 80}]}]
                """);
        assertThat(snapshot.meshRoutes()).isEmpty();
        assertThat(snapshot.rejectedRoutes()).isEmpty();
        assertThat(snapshot.problems()).isEmpty();
    }

    @Test
    void weightsThatSumToZeroAreRefusedWithTheField() throws Exception {
        ClusterSnapshot snapshot = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: nowhere}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web}]
                  rules: [{backendRefs: [{name: web-v1, port: 80, weight: 0}, {name: web-v2, port: 80, weight: 0}]}]
                """);
        assertThat(snapshot.meshRoutes()).isEmpty();
        GatewayRoutes.Parsed.Rejected rejected = snapshot.rejectedRoutes().iterator().next();
        assertThat(rejected.reason()).isEqualTo("UnsupportedValue");
        assertThat(rejected.message()).isEqualTo("HTTPRoute shop/nowhere: spec.rules[0].backendRefs: the weights sum to zero, so no request could go anywhere");
        assertThat(rejected.parents()).extracting(MeshRoute.ServiceParent::service).containsExactly(new ObjectKey("shop", "web"));
    }

    @Test
    void anExpensiveRegexIsRefusedWithTheField() throws Exception {
        ClusterSnapshot snapshot = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: slow}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web}]
                  rules: [{matches: [{path: {type: RegularExpression, value: "/(a+)+$"}}]}]
                """);
        assertThat(snapshot.rejectedRoutes()).singleElement().satisfies(r -> assertThat(r.message())
                .startsWith("HTTPRoute shop/slow: spec.rules[0].matches[0].path.value: a repeated group that itself repeats"));
    }

    @Test
    void unsupportedFiltersAndUnreadVersionsAreNamed() throws Exception {
        ClusterSnapshot snapshot = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: ext}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web}]
                  rules: [{filters: [{type: ExtensionRef, extensionRef: {group: x.io, kind: Thing, name: t}}]}]
                ---
                apiVersion: gateway.networking.k8s.io/v1beta1
                kind: HTTPRoute
                metadata: {namespace: shop, name: old}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web}]
                """);
        assertThat(snapshot.problems()).containsExactlyInAnyOrder(
                "HTTPRoute shop/ext: spec.rules[0].filters[0].type: 'ExtensionRef' is not supported"
                        + " (RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror)",
                "HTTPRoute shop/old: gateway.networking.k8s.io/v1beta1 is not read; write it as gateway.networking.k8s.io/v1");
    }

    @Test
    void aTcpRouteSplitsConnectionsAndOtherVersionsAreNamed() throws Exception {
        ClusterSnapshot snapshot = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1alpha2
                kind: TCPRoute
                metadata: {namespace: shop, name: db-split}
                spec:
                  parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
                  rules: [{backendRefs: [{name: db-v1, port: 5432, weight: 70}, {name: db-v2, port: 5432, weight: 30}]}]
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: TCPRoute
                metadata: {namespace: shop, name: db-other}
                spec:
                  parentRefs: [{group: "", kind: Service, name: db}]
                """);
        MeshRoute route = snapshot.meshRoutes().iterator().next();
        assertThat(route.key().kind()).isEqualTo(MeshRoute.Kind.TCP_ROUTE);
        assertThat(route.key().kind().routesRequests()).isFalse();
        assertThat(route.rules().getFirst().backends()).extracting(MeshRoute.Backend::weight).containsExactly(70, 30);
        assertThat(snapshot.problems()).containsExactly(
                "TCPRoute shop/db-other: gateway.networking.k8s.io/v1 is not read; write it as gateway.networking.k8s.io/v1alpha2");
    }

    @Test
    void aServiceParentMayNameTheCoreGroupAsCoreOrLeaveItOut() throws Exception {
        ClusterSnapshot snapshot = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: core-group}
                spec:
                  parentRefs: [{group: core, kind: Service, name: web}, {kind: Service, name: api}]
                  rules: [{backendRefs: [{group: core, kind: Service, name: web-v2, port: 80}]}]
                """);
        MeshRoute route = snapshot.meshRoutes().iterator().next();
        assertThat(route.parents()).extracting(p -> p.service().name()).containsExactly("web", "api");
        assertThat(route.rules().getFirst().backends().getFirst().isService()).isTrue();
    }

    @Test
    void theApisOwnBoundsHoldWithoutAnApiServer() throws Exception {
        StringBuilder rules = new StringBuilder();
        for (int i = 0; i < 17; i++) {
            rules.append("    - backendRefs: [{name: web, port: 80}]\n");
        }
        ClusterSnapshot tooMany = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: many}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web}]
                  rules:
                """ + rules);
        assertThat(tooMany.rejectedRoutes()).singleElement().satisfies(r -> assertThat(r.message())
                .isEqualTo("HTTPRoute shop/many: spec.rules: 17 given; at most 16"));
        ClusterSnapshot longValue = snapshot("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: long}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web}]
                  rules: [{matches: [{headers: [{name: x-a, value: "%s"}]}]}]
                """.formatted("v".repeat(5000)));
        assertThat(longValue.rejectedRoutes()).singleElement().satisfies(r -> assertThat(r.message())
                .endsWith("spec.rules[0].matches[0].headers[0].value: needs a value of at most 4096 characters"));
    }
}
