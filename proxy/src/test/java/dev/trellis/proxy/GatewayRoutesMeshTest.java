package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.destination.DestinationServer;
import dev.trellis.testing.TestPki;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gateway API HTTPRoutes on a Service, carried out by real proxies with the real destination
 * service reading a manifest directory: header matches and filters, redirects and rewrites,
 * a weighted canary shifted 90/10 → 50/50 → 0/100 under load with every request answered,
 * and a bad edit that changes nothing.
 */
class GatewayRoutesMeshTest {

    private static final WorkloadIdentity CLIENT = TestPki.identity("shop", "client");
    private static final WorkloadIdentity V1 = TestPki.identity("shop", "web-v1");
    private static final WorkloadIdentity V2 = TestPki.identity("shop", "web-v2");
    private static final WorkloadIdentity SHADOW = TestPki.identity("shop", "web-shadow");
    private static final String WEB = "http://web.shop.svc.cluster.local";

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private LocalDirectorySource cluster;
    private DestinationServer destination;
    private Path state;
    private final List<HttpServer> apps = new ArrayList<>();
    /** Tries per id of /flaky, whose first try fails (503, or the status asked for). */
    private final Map<String, AtomicInteger> flakyTries = new ConcurrentHashMap<>();
    private HttpClient http;

    @BeforeEach
    void start() throws Exception {
        state = Files.createDirectories(dir.resolve("state"));
        mesh = new MeshFixture(dir);
        cluster = LocalDirectorySource.start(state, Duration.ofMillis(50));
        destination = mesh.startDestination(cluster);
        int port = destination.grpcAddress().getPort();
        HttpServer v1 = app("v1");
        HttpServer v2 = app("v2");
        HttpServer shadow = shadowApp();
        Proxy v1Proxy = mesh.start(MeshFixture.withDestination(mesh.config(V1, List.of()), port, "web-v1-0"));
        Proxy v2Proxy = mesh.start(MeshFixture.withDestination(mesh.config(V2, List.of()), port, "web-v2-0"));
        Proxy shadowProxy = mesh.start(MeshFixture.withDestination(mesh.config(SHADOW, List.of()), port, "web-shadow-0"));
        Proxy client = mesh.start(MeshFixture.withDestination(mesh.config(CLIENT, List.of(), Optional.of(new HostPort("127.0.0.1", 0)),
                Duration.ofSeconds(5)), port, "client-0"));
        Files.writeString(state.resolve("app.yaml"), workload("web", "web-v1", v1.getAddress().getPort(), v1Proxy.inboundAddress().getPort())
                + workload("web-v2", "web-v2", v2.getAddress().getPort(), v2Proxy.inboundAddress().getPort())
                + workload("web-shadow", "web-shadow", shadow.getAddress().getPort(), shadowProxy.inboundAddress().getPort()));
        http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow())).version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        destination.close();
        cluster.close();
        apps.forEach(app -> app.stop(0));
    }

    @Test
    void headerMatchesSteerAndFiltersEditBothWays() throws Exception {
        route("""
                    - matches: [{path: {type: PathPrefix, value: /}, headers: [{name: X-Canary, value: "yes"}]}]
                      filters:
                        - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Route, value: canary}], remove: [X-Secret]}}
                        - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-Via-Route, value: canary}]}}
                      backendRefs: [{name: web-v2, port: 80}]
                    - matches: [{path: {type: PathPrefix, value: /old}}]
                      filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}}]
                    - matches: [{path: {type: PathPrefix, value: /api}, queryParams: [{name: v, value: "2"}]}]
                      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2/api}}}]
                      backendRefs: [{name: web-v2, port: 80}]
                """);
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            HttpResponse<String> canary = get("/anything", Map.of("X-Canary", "yes", "X-Secret", "s3cret"));
            assertThat(canary.body()).isEqualTo("v2 /anything route=canary secret=none");
            assertThat(canary.headers().firstValue("x-via-route")).contains("canary");
        });
        assertThat(get("/anything", Map.of("X-Canary", "no")).body()).startsWith("v1 ");

        HttpResponse<String> moved = get("/old/page?x=1", Map.of());
        assertThat(moved.statusCode()).isEqualTo(301);
        assertThat(moved.headers().firstValue("location")).contains("http://web.shop.svc.cluster.local/new/page?x=1");
        assertThat(get("/older", Map.of()).statusCode()).as("a prefix matches whole segments").isEqualTo(200);

        assertThat(get("/api/items?v=2", Map.of()).body()).startsWith("v2 /v2/api/items?v=2 ");
        assertThat(get("/api/items?v=1", Map.of()).body()).startsWith("v1 /api/items?v=1 ");
    }

    @Test
    void theFirstRequestOfAProxyThatNeverCalledTheServiceFollowsItsRoutes() throws Exception {
        route("""
                    - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {remove: [X-Secret]}}]
                      backendRefs: [{name: web-v2, port: 80}]
                """);
        // Wait until the destination service has the route (seen through the first client).
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> get("/warm", Map.of()).body().startsWith("v2 "));
        Proxy fresh = mesh.start(MeshFixture.withDestination(mesh.config(CLIENT, List.of(), Optional.of(new HostPort("127.0.0.1", 0)),
                Duration.ofSeconds(5)), destination.grpcAddress().getPort(), "client-1"));
        HttpClient freshHttp = HttpClient.newBuilder().proxy(ProxySelector.of(fresh.outboundAddress().orElseThrow()))
                .version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> first = freshHttp.send(HttpRequest.newBuilder(URI.create(WEB + "/first")).header("X-Secret", "s3cret")
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(first.body()).as("the very first request").isEqualTo("v2 /first route=none secret=none");
    }

    @Test
    void aRoutesRequestTimeoutAnswers504InsteadOfWaiting() throws Exception {
        route("""
                    - matches: [{path: {type: PathPrefix, value: /slow}}]
                      timeouts: {request: 300ms}
                      backendRefs: [{name: web, port: 80}]
                """);
        // The app takes 3 s for /slow; the route allows 300 ms: the client's proxy answers 504 (a generous bound, not a speed test).
        Awaitility.await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
            HttpResponse<String> answer = get("/slow", Map.of());
            assertThat(answer.statusCode()).isEqualTo(504);
            assertThat(answer.headers().firstValue("trellis-proxy-error")).contains("timeout");
        });
        assertThat(get("/fast", Map.of()).statusCode()).as("outside the rule, no such timeout").isEqualTo(200);
    }

    @Test
    void aStatusTheRouteRetriesGoesAgainAndOthersDoNot() throws Exception {
        route("""
                    - matches: [{path: {type: PathPrefix, value: /flaky}}]
                      retry: {attempts: 2, codes: [503]}
                      backendRefs: [{name: web, port: 80}]
                """);
        // The first try of each id is answered 503 by the app; the retry gets 200.
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(get("/flaky?id=" + System.nanoTime(), Map.of()).statusCode()).isEqualTo(200));
        assertThat(get("/flaky?id=once", Map.of()).body()).startsWith("v1 /flaky?id=once");
        assertThat(flakyTries.get("once").get()).isEqualTo(2);
        // 500 is not among the route's codes: the first answer stands.
        HttpResponse<String> notRetried = get("/flaky?id=fivehundred&status=500", Map.of());
        assertThat(notRetried.statusCode()).isEqualTo(500);
        assertThat(flakyTries.get("fivehundred").get()).isEqualTo(1);
    }

    @Test
    void aMirrorSeesTheRequestAndTheClientOnlyThePrimarysAnswer() throws Exception {
        route("""
                    - matches: [{path: {type: PathPrefix, value: /mirrored}}]
                      filters: [{type: RequestMirror, requestMirror: {backendRef: {name: web-shadow, port: 80}}}]
                      backendRefs: [{name: web, port: 80}]
                """);
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(WEB + "/mirrored/x")).timeout(Duration.ofSeconds(10))
                    .POST(HttpRequest.BodyPublishers.ofString("hello")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).isEqualTo(200);
            assertThat(answer.body()).startsWith("v1 /mirrored/x");
            assertThat(shadowed.poll(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("POST /mirrored/x hello");
        });
        // The shadow answers 500: the client sees v1's answer all the same.
        HttpResponse<String> answer = get("/mirrored/y", Map.of());
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.body()).startsWith("v1 /mirrored/y");
        assertThat(shadowed.poll(5, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("GET /mirrored/y ");
    }

    @Test
    void aCanaryShiftsUnderLoadWithoutDroppingARequestAndABadEditChangesNothing() throws Exception {
        Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
        AtomicInteger failures = new AtomicInteger();
        AtomicBoolean running = new AtomicBoolean(true);
        ExecutorService load = Executors.newFixedThreadPool(4);
        List<Future<?>> workers = new ArrayList<>();
        split(90, 10, "a");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> "a".equals(get("/", Map.of()).headers().firstValue("x-phase").orElse("")));
        for (int i = 0; i < 4; i++) {
            workers.add(load.submit(() -> {
                // Bounded: stops when told, or after 60 s whatever happens.
                long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (running.get() && System.nanoTime() < end) {
                    try {
                        HttpResponse<String> response = get("/", Map.of());
                        if (response.statusCode() != 200) {
                            failures.incrementAndGet();
                        }
                        String phase = response.headers().firstValue("x-phase").orElse("?");
                        counts.computeIfAbsent(phase + ":" + response.body().substring(0, 2), k -> new AtomicInteger()).incrementAndGet();
                    } catch (Exception e) {
                        failures.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        try {
            assertShare(counts, "a", 0.10);
            split(50, 50, "b");
            assertShare(counts, "b", 0.50);
            split(0, 100, "c");
            assertShare(counts, "c", 1.0);
            // A bad edit (weights that sum to zero) is refused: the last good split stays in force.
            split(0, 0, "d");
            Thread.sleep(1500);
            assertShare(counts, "c", 1.0);
            assertThat(counts.keySet()).noneMatch(k -> k.startsWith("d:"));
        } finally {
            running.set(false);
            for (Future<?> worker : workers) {
                worker.get();
            }
            load.shutdown();
        }
        assertThat(failures.get()).as("requests not answered 200 while the weights changed").isZero();
    }

    /**
     * Waits until 2,000 requests of {@code phase} were answered, then checks v2's share of them
     * within 5 points: over 4 standard deviations of a fair split of 2,000, so chance alone
     * fails this about once in 100,000 runs.
     */
    private static void assertShare(Map<String, AtomicInteger> counts, String phase, double v2Share) {
        int start = count(counts, phase + ":v1") + count(counts, phase + ":v2");
        int startV2 = count(counts, phase + ":v2");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> count(counts, phase + ":v1") + count(counts, phase + ":v2") - start >= 2000);
        int total = count(counts, phase + ":v1") + count(counts, phase + ":v2") - start;
        double share = (count(counts, phase + ":v2") - startV2) / (double) total;
        assertThat(share).as("v2's share in phase " + phase + " of " + total + " requests").isCloseTo(v2Share, org.assertj.core.data.Offset.offset(0.05));
    }

    private static int count(Map<String, AtomicInteger> counts, String key) {
        AtomicInteger count = counts.get(key);
        return count == null ? 0 : count.get();
    }

    private void split(int v1, int v2, String phase) throws Exception {
        route("""
                    - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Phase, value: %s}]}}]
                      backendRefs: [{name: web, port: 80, weight: %d}, {name: web-v2, port: 80, weight: %d}]
                """.formatted(phase, v1, v2));
    }

    private void route(String rules) throws Exception {
        Path file = state.resolve("route.yaml");
        Path temp = state.resolve(".route.yaml.tmp");
        Files.writeString(temp, """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {namespace: shop, name: web-split}
                spec:
                  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
                  rules:
                """ + rules);
        Files.move(temp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private HttpResponse<String> get(String path, Map<String, String> headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(WEB + path)).timeout(Duration.ofSeconds(10));
        headers.forEach(request::header);
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Requests the shadow saw: method, path and body. */
    private final java.util.concurrent.BlockingQueue<String> shadowed = new java.util.concurrent.LinkedBlockingQueue<>();

    /** The mirror's app: notes what it sees, then answers slowly and badly — none of which the client may notice. */
    private HttpServer shadowApp() throws Exception {
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            shadowed.add(exchange.getRequestMethod() + " " + exchange.getRequestURI() + " " + body);
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.sendResponseHeaders(500, -1);
            exchange.close();
        });
        app.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        app.start();
        apps.add(app);
        return app;
    }

    /** An app answering its version, the path it saw and the two headers the routes edit. */
    private HttpServer app(String version) throws Exception {
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/slow", exchange -> {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.createContext("/flaky", exchange -> {
            Map<String, String> query = new java.util.HashMap<>();
            for (String pair : exchange.getRequestURI().getQuery().split("&")) {
                query.put(pair.substring(0, pair.indexOf('=')), pair.substring(pair.indexOf('=') + 1));
            }
            int tries = flakyTries.computeIfAbsent(query.get("id"), k -> new AtomicInteger()).incrementAndGet();
            int status = tries == 1 ? Integer.parseInt(query.getOrDefault("status", "503")) : 200;
            byte[] body = (version + " " + exchange.getRequestURI()).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.createContext("/", exchange -> {
            String route = Optional.ofNullable(exchange.getRequestHeaders().getFirst("X-Route")).orElse("none");
            String secret = Optional.ofNullable(exchange.getRequestHeaders().getFirst("X-Secret")).orElse("none");
            byte[] body = (version + " " + exchange.getRequestURI() + " route=" + route + " secret=" + secret).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        app.start();
        apps.add(app);
        return app;
    }

    private static String workload(String service, String pod, int appPort, int proxyPort) {
        return LocalWorkloads.yaml("shop", service, pod, "http", 80, appPort, proxyPort);
    }
}
