package dev.trellis.viz;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import tools.jackson.databind.json.JsonMapper;

/**
 * The metrics API for the CLI: loopback HTTP, every request with {@code Authorization: Bearer
 * <token>} (a random token the API writes to a 0600 file), JSON answers.
 * {@code GET /api/stat?resource=deploy|pod|ns&namespace=NS&name=NAME}, {@code GET /api/edges?namespace=NS},
 * {@code GET /api/routes?service=NAME&namespace=NS}. Query strings above 2 KiB
 * are refused.
 */
public final class VizApi implements AutoCloseable {

    private static final int MAX_QUERY = 2048;

    private final HttpServer server;
    private final String token;
    private final Viz viz;
    private final JsonMapper json = JsonMapper.builder().build();

    private final Optional<java.util.function.Supplier<java.net.URI>> dashboardLogins;

    private VizApi(HttpServer server, String token, Viz viz, Optional<java.util.function.Supplier<java.net.URI>> dashboardLogins) {
        this.server = server;
        this.token = token;
        this.viz = viz;
        this.dashboardLogins = dashboardLogins;
    }

    /** Binds 127.0.0.1:{@code port} (0: any free port), with a random token. */
    public static VizApi start(Viz viz, int port) throws IOException {
        return start(viz, port, randomToken());
    }

    /** A token as the API makes one when none is given: 24 random bytes, hex. */
    public static String randomToken() {
        byte[] secret = new byte[24];
        new SecureRandom().nextBytes(secret);
        return HexFormat.of().formatHex(secret);
    }

    /** Shortest token accepted from an operator (a Secret in a cluster). */
    public static final int MIN_TOKEN_LENGTH = 32;

    /** Binds 127.0.0.1:{@code port} (0: any free port); callers must present {@code token}. */
    public static VizApi start(Viz viz, int port, String token) throws IOException {
        return start(viz, port, token, Optional.empty());
    }

    /**
     * As {@link #start(Viz, int, String)}; with {@code dashboardLogins}, {@code POST
     * /api/dashboard/login} answers {@code {"url": …}}: a new one-time login link to the
     * dashboard for the holder of the token (it sees everything the API does).
     */
    public static VizApi start(Viz viz, int port, String token, Optional<java.util.function.Supplier<java.net.URI>> dashboardLogins) throws IOException {
        if (token.length() < MIN_TOKEN_LENGTH || !token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new IllegalArgumentException("viz: the API token must be at least " + MIN_TOKEN_LENGTH + " printable characters without spaces");
        }
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
        } catch (java.net.BindException e) {
            throw new IOException("viz: cannot listen on 127.0.0.1:" + port + ": " + e.getMessage(), e);
        }
        VizApi api = new VizApi(server, token, viz, dashboardLogins);
        server.createContext("/api/", api::handle);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.start();
        return api;
    }

    public InetSocketAddress address() {
        return server.getAddress();
    }

    public String token() {
        return token;
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String auth = exchange.getRequestHeaders().getFirst("Authorization");
            if (auth == null || !MessageDigest.isEqual(auth.getBytes(StandardCharsets.UTF_8), ("Bearer " + token).getBytes(StandardCharsets.UTF_8))) {
                send(exchange, 401, Map.of("error", "viz: a bearer token from the API file is required"));
                return;
            }
            if (exchange.getRequestMethod().equals("POST") && exchange.getRequestURI().getPath().equals("/api/dashboard/login")) {
                if (dashboardLogins.isEmpty()) {
                    send(exchange, 404, Map.of("error", "viz: this metrics API runs no dashboard"));
                    return;
                }
                try {
                    send(exchange, 200, Map.of("url", dashboardLogins.get().get().toString()));
                } catch (IllegalStateException e) {
                    send(exchange, 503, Map.of("error", e.getMessage()));
                }
                return;
            }
            if (!exchange.getRequestMethod().equals("GET")) {
                send(exchange, 405, Map.of("error", "viz: GET only"));
                return;
            }
            String query = Optional.ofNullable(exchange.getRequestURI().getRawQuery()).orElse("");
            if (query.length() > MAX_QUERY) {
                send(exchange, 414, Map.of("error", "viz: query longer than " + MAX_QUERY + " characters"));
                return;
            }
            Map<String, String> params = params(query);
            if (exchange.getRequestURI().getPath().equals("/api/stat")) {
                Viz.Resource resource;
                try {
                    resource = Viz.Resource.valueOf(params.getOrDefault("resource", "deploy").toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    send(exchange, 400, Map.of("error", "viz: resource must be deploy, pod or ns"));
                    return;
                }
                List<StatRow> rows = viz.stat(resource, Optional.ofNullable(params.get("namespace")), Optional.ofNullable(params.get("name")));
                send(exchange, 200, rows);
                return;
            }
            if (exchange.getRequestURI().getPath().equals("/api/edges")) {
                send(exchange, 200, viz.edges(Optional.ofNullable(params.get("namespace"))));
                return;
            }
            if (exchange.getRequestURI().getPath().equals("/api/routes")) {
                String service = params.get("service");
                if (service == null || service.isBlank()) {
                    send(exchange, 400, Map.of("error", "viz: routes needs ?service=NAME (and namespace=NS)"));
                    return;
                }
                send(exchange, 200, viz.routes(service, params.getOrDefault("namespace", "default")));
                return;
            }
            if (exchange.getRequestURI().getPath().equals("/api/authz")) {
                send(exchange, 200, viz.authz(params.getOrDefault("namespace", "default")));
                return;
            }
            if (exchange.getRequestURI().getPath().equals("/api/tap")) {
                tap(exchange, params);
                return;
            }
            send(exchange, 404, Map.of("error", "viz: no such API; try /api/stat, /api/edges, /api/routes, /api/authz, /api/tap"));
        }
    }

    /**
     * Streams tap events as JSON lines until {@code max} requests completed (default 100, at
     * most 10,000), {@code seconds} passed (default 30, at most 600), or the client went away.
     */
    private void tap(HttpExchange exchange, Map<String, String> params) throws IOException {
        int max;
        int seconds;
        try {
            max = Math.min(10_000, Math.max(1, Integer.parseInt(params.getOrDefault("max", "100"))));
            seconds = Math.min(600, Math.max(1, Integer.parseInt(params.getOrDefault("seconds", "30"))));
        } catch (NumberFormatException e) {
            send(exchange, 400, Map.of("error", "viz: max and seconds must be whole numbers"));
            return;
        }
        dev.trellis.api.tap.v1.Match match = dev.trellis.api.tap.v1.Match.newBuilder()
                .setPathPrefix(params.getOrDefault("path", "")).setMethod(params.getOrDefault("method", "")).build();
        java.util.concurrent.LinkedBlockingQueue<Object> events = new java.util.concurrent.LinkedBlockingQueue<>(10_000);
        Object end = new Object();
        exchange.getResponseHeaders().set("Content-Type", "application/x-ndjson");
        exchange.sendResponseHeaders(200, 0);
        try (AutoCloseable tap = viz.tap(params.getOrDefault("namespace", "default"), Optional.ofNullable(params.get("deploy")).map(d -> new dev.trellis.cluster.Workloads.Workload(dev.trellis.cluster.Workloads.Workload.DEPLOYMENT, d)), match, max,
                events::offer, () -> events.offer(end))) {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(seconds);
            int completed = 0;
            var out = exchange.getResponseBody();
            while (completed < max) {
                long left = deadline - System.nanoTime();
                Object next = left <= 0 ? null : events.poll(left, java.util.concurrent.TimeUnit.NANOSECONDS);
                if (next == null || next == end) {
                    break;
                }
                dev.trellis.api.tap.v1.TapEvent event = (dev.trellis.api.tap.v1.TapEvent) next;
                if (event.hasResponseEnd()) {
                    completed++;
                }
                out.write(json.writeValueAsBytes(TapLine.of(event)));
                out.write('\n');
                out.flush();
            }
        } catch (IOException e) {
            // the client went away
        } catch (Exception e) {
            Thread.currentThread().interrupt();
        }
    }

    private void send(HttpExchange exchange, int status, Object body) throws IOException {
        byte[] bytes = json.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private static Map<String, String> params(String query) {
        Map<String, String> out = new HashMap<>();
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                out.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
