package dev.trellis.benchmarks;

import dev.trellis.proxy.routes.MatchedRoute;
import dev.trellis.proxy.routes.RouteRequest;
import dev.trellis.proxy.routes.RouteTable;
import dev.trellis.wire.destination.Profile;
import dev.trellis.wire.destination.Route;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What matching a request against a Service's routes costs the proxy per request, with
 * {@code routes} routes on the Service, each request matching the last (the worst case) or
 * none: exact paths (looked up in a map), path prefixes and header matches (tried in order),
 * regular expressions (tried in order, within their budget), weighted backends picked. The
 * {@code noRoutes} benchmark is the baseline: a Service without routes.
 * {@link #main} prints the heap a table of 1,000 routes of each kind holds.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class RouteMatchingBenchmark {

    @Param({"1000"})
    public int routes;

    private RouteTable exact;
    private RouteTable prefixes;
    private RouteTable headers;
    private RouteTable regexes;
    private RouteRequest lastExact;
    private RouteRequest lastPrefix;
    private RouteRequest lastHeader;
    private RouteRequest lastRegex;
    private RouteRequest unmatched;

    enum Kind { EXACT, PREFIX, HEADER, REGEX }

    static RouteTable table(Kind kind, int count) {
        List<Route> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Route.Match match = switch (kind) {
                case EXACT -> new Route.Match("/api/v1/resource-" + i, "", "", "GET", List.of(), List.of());
                case PREFIX -> new Route.Match("", "", "/api/v1/resource-" + i, "", List.of(), List.of());
                case HEADER -> new Route.Match("", "", "/", "", List.of(new Route.ValueMatch("x-tenant", false, "tenant-" + i)), List.of());
                case REGEX -> new Route.Match("", "/api/v[0-9]+/resource-" + i + "/[a-z]+", "", "", List.of(), List.of());
            };
            out.add(new Route("route-" + i, "HTTPRoute", "shop", match, false, Optional.empty(),
                    List.of(new Route.Backend("web-v1.shop.svc.cluster.local:80", 90), new Route.Backend("web-v2.shop.svc.cluster.local:80", 10)),
                    Route.Filters.NONE, Optional.empty(), Optional.empty()));
        }
        return RouteTable.of(new Profile(out));
    }

    @Setup
    public void setUp() {
        exact = table(Kind.EXACT, routes);
        prefixes = table(Kind.PREFIX, routes);
        headers = table(Kind.HEADER, routes);
        regexes = table(Kind.REGEX, routes);
        int last = routes - 1;
        lastExact = RouteRequest.of("GET", "/api/v1/resource-" + last + "?page=2");
        lastPrefix = RouteRequest.of("GET", "/api/v1/resource-" + last + "/items?page=2");
        lastHeader = RouteRequest.of("GET", "/anything", Map.of("x-tenant", "tenant-" + last));
        lastRegex = RouteRequest.of("GET", "/api/v1/resource-" + last + "/items");
        unmatched = RouteRequest.of("GET", "/elsewhere/entirely");
    }

    @Benchmark
    public MatchedRoute noRoutes() {
        return RouteTable.EMPTY.match(lastExact);
    }

    @Benchmark
    public String exactLastOfAll() {
        return exact.match(lastExact).backend("web.shop.svc.cluster.local:80");
    }

    @Benchmark
    public String prefixLastOfAll() {
        return prefixes.match(lastPrefix).backend("web.shop.svc.cluster.local:80");
    }

    @Benchmark
    public String headerLastOfAll() {
        return headers.match(lastHeader).backend("web.shop.svc.cluster.local:80");
    }

    @Benchmark
    public String regexLastOfAll() {
        return regexes.match(lastRegex).backend("web.shop.svc.cluster.local:80");
    }

    @Benchmark
    public MatchedRoute prefixNoneMatch() {
        return prefixes.match(unmatched);
    }

    /** The heap one table of 1,000 routes of each kind holds, measured over 50 tables after full collections. */
    public static void main(String[] args) {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        for (Kind kind : Kind.values()) {
            List<RouteTable> kept = new ArrayList<>();
            long before = usedAfterGc();
            for (int i = 0; i < 50; i++) {
                kept.add(table(kind, count));
            }
            long after = usedAfterGc();
            System.out.printf("%-6s %d routes: %,d bytes per table (%,d per route); %d tables kept%n", kind, count, (after - before) / 50,
                    (after - before) / 50 / count, kept.size());
        }
    }

    private static long usedAfterGc() {
        Runtime runtime = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return runtime.totalMemory() - runtime.freeMemory();
    }
}
