package dev.trellis.proxy.routes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.wire.destination.Profile;
import dev.trellis.wire.destination.Route;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RouteTableTest {

    private static Route route(String name, Route.Match match, List<Route.Backend> backends) {
        return new Route(name, "HTTPRoute", "shop", match, false, Optional.empty(), backends, Route.Filters.NONE, Optional.empty(), Optional.empty());
    }

    private static Route.Match path(String exact, String prefix, String regex) {
        return new Route.Match(exact, regex, prefix, "", List.of(), List.of());
    }

    private static RouteRequest request(String method, String path, Map<String, String> headers) {
        return RouteRequest.of(method, path, headers);
    }

    @Test
    void theFirstRouteInProfileOrderWinsWhetherExactOrNot() {
        RouteTable table = RouteTable.of(new Profile(List.of(
                route("regex-first", path("", "", "/a/[0-9]+"), List.of()),
                route("exact", path("/a/1", "", ""), List.of()),
                route("exact-2", path("/b", "", ""), List.of()),
                route("prefix", path("", "/b", ""), List.of()))));
        assertThat(table.match(RouteRequest.of("GET", "/a/1")).name()).isEqualTo("regex-first");
        assertThat(table.match(RouteRequest.of("GET", "/b?x=1")).name()).isEqualTo("exact-2");
        assertThat(table.match(RouteRequest.of("GET", "/b/c")).name()).isEqualTo("prefix");
        assertThat(table.match(RouteRequest.of("GET", "/bc")).name()).as("prefixes match whole segments").isEqualTo("[default]");
    }

    @Test
    void headersQueryParametersAndMethodMustAllHold() {
        Route.Match match = new Route.Match("", "", "/", "POST", List.of(new Route.ValueMatch("x-canary", false, "yes")),
                List.of(new Route.ValueMatch("v", true, "[0-9]+")));
        RouteTable table = RouteTable.of(new Profile(List.of(route("canary", match, List.of()))));
        assertThat(table.match(request("POST", "/x?v=12", Map.of("x-canary", "yes"))).name()).isEqualTo("canary");
        assertThat(table.match(request("GET", "/x?v=12", Map.of("x-canary", "yes"))).name()).isEqualTo("[default]");
        assertThat(table.match(request("POST", "/x?v=a", Map.of("x-canary", "yes"))).name()).isEqualTo("[default]");
        assertThat(table.match(request("POST", "/x?v=12", Map.of("x-canary", "no"))).name()).isEqualTo("[default]");
        assertThat(table.match(request("POST", "/x", Map.of("x-canary", "yes"))).name()).isEqualTo("[default]");
    }

    @Test
    void backendsAreChosenByWeightAndAnUnresolvedOneIsNamedEmpty() {
        MatchedRoute route = RouteTable.of(new Profile(List.of(route("split", path("", "/", ""),
                List.of(new Route.Backend("v1:80", 90), new Route.Backend("v2:80", 10), new Route.Backend("", 0)))))).match(RouteRequest.of("GET", "/"));
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < 20_000; i++) {
            counts.merge(route.backend("web:80"), 1, Integer::sum);
        }
        assertThat(counts.get("v2:80") / 20_000.0).isCloseTo(0.10, org.assertj.core.data.Offset.offset(0.015));
        assertThat(counts).doesNotContainKey("");
        assertThat(MatchedRoute.DEFAULT.backend("web:80")).isEqualTo("web:80");
        MatchedRoute broken = RouteTable.of(new Profile(List.of(route("broken", path("", "/", ""), List.of(new Route.Backend("", 1))))))
                .match(RouteRequest.of("GET", "/"));
        assertThat(broken.backend("web:80")).isEmpty();
    }

    @Test
    void rewritesReplaceThePrefixOrTheWholePathAndKeepTheQuery() {
        assertThat(MatchedRoute.rewritePath("/api/items?v=2", true, "/v2/api", true, "/api")).isEqualTo("/v2/api/items?v=2");
        assertThat(MatchedRoute.rewritePath("/api", true, "/", true, "/api")).isEqualTo("/");
        assertThat(MatchedRoute.rewritePath("/api/x", true, "/", true, "/api")).isEqualTo("/x");
        assertThat(MatchedRoute.rewritePath("/x?q", true, "/y", false, "")).isEqualTo("/y?q");
        assertThat(MatchedRoute.rewritePath("/x", false, "", false, "")).isEqualTo("/x");
    }

    @Test
    void aTryWaitsForItsBackendTimeoutWithinTheRequestTimeout() {
        MatchedRoute both = new MatchedRoute("r", "HTTPRoute", false, Optional.of(Duration.ofSeconds(1)), Optional.of(Duration.ofMillis(300)),
                MatchedRoute.Backends.NONE, Route.Filters.NONE, Optional.empty(), "");
        assertThat(both.tryTimeout(Duration.ofSeconds(10))).isEqualTo(Duration.ofMillis(300));
        assertThat(MatchedRoute.DEFAULT.tryTimeout(Duration.ofSeconds(10))).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void headerIndexedRoutesKeepTheProfilesOrder() {
        RouteTable table = RouteTable.of(new Profile(List.of(
                route("tenant-a", new Route.Match("", "", "/", "", List.of(new Route.ValueMatch("x-tenant", false, "a")), List.of()), List.of()),
                route("everyone", new Route.Match("", "", "/", "", List.of(), List.of()), List.of()),
                route("tenant-b", new Route.Match("", "", "/", "", List.of(new Route.ValueMatch("x-tenant", false, "b")), List.of()), List.of()))));
        assertThat(table.match(request("GET", "/x", Map.of("x-tenant", "a"))).name()).isEqualTo("tenant-a");
        assertThat(table.match(request("GET", "/x", Map.of("x-tenant", "b"))).name()).as("an earlier route wins").isEqualTo("everyone");
        assertThat(table.match(request("GET", "/x", Map.of())).name()).isEqualTo("everyone");
        RouteTable many = RouteTable.of(new Profile(java.util.stream.IntStream.range(0, 1000).mapToObj(i -> route("t" + i,
                new Route.Match("", "", "/", "", List.of(new Route.ValueMatch("x-tenant", false, "t" + i), new Route.ValueMatch("x-plan", true, "gold|silver")),
                        List.of()), List.of())).toList()));
        assertThat(many.match(request("GET", "/", Map.of("x-tenant", "t999", "x-plan", "gold"))).name()).isEqualTo("t999");
        assertThat(many.match(request("GET", "/", Map.of("x-tenant", "t999", "x-plan", "bronze"))).name()).as("every condition still holds")
                .isEqualTo("[default]");
    }
}
