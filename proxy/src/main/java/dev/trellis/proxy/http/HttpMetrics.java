package dev.trellis.proxy.http;

import dev.trellis.proxy.errors.ProxyError;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Request metrics: {@code request_total}, {@code response_total} (status code and
 * classification: a 5xx, or a non-zero gRPC status, is a failure), {@code response_latency_ms}. Authorities are capped at 200 values per
 * proxy ({@code other} beyond).
 */
public final class HttpMetrics {

    private static final int MAX_AUTHORITIES = 200;

    private final Counter requests;
    private final Counter responses;
    private final Histogram latency;
    private final Counter routeResponses;
    private final Counter inboundByClient;
    private final Set<String> clients = ConcurrentHashMap.newKeySet();
    private final Histogram routeLatency;
    private final Set<String> authorities = ConcurrentHashMap.newKeySet();
    private final Counter refused;

    public HttpMetrics(PrometheusRegistry registry) {
        refused = Counter.builder().name("request_refused").help("HTTP requests the proxy refused or failed itself, by reason")
                .labelNames("direction", "reason").register(registry);
        requests = Counter.builder().name("request").help("HTTP requests").labelNames("direction", "authority").register(registry);
        responses = Counter.builder().name("response").help("HTTP responses")
                .labelNames("direction", "authority", "status_code", "classification").register(registry);
        latency = Histogram.builder().name("response_latency_ms").help("Time to the response, in milliseconds")
                .labelNames("direction", "authority")
                .classicUpperBounds(1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 60000)
                .register(registry);
        inboundByClient = Counter.builder().name("inbound_requests_by_client").help("Inbound HTTP requests by the caller's mesh identity")
                .labelNames("client_id").register(registry);
        routeResponses = Counter.builder().name("route_response").help("HTTP responses by route of the destination's profile")
                .labelNames("direction", "authority", "rt_route", "status_code", "classification").register(registry);
        routeLatency = Histogram.builder().name("route_response_latency_ms").help("Time to the response by route, in milliseconds")
                .labelNames("direction", "authority", "rt_route")
                .classicUpperBounds(1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 60000)
                .register(registry);
    }

    /** An inbound request from mesh identity {@code clientId} (at most 200 identities per proxy; {@code other} beyond). */
    public void inboundFrom(String clientId) {
        String bounded = clients.contains(clientId) || (clients.size() < MAX_AUTHORITIES && clients.add(clientId)) ? clientId : "other";
        inboundByClient.labelValues(bounded).inc();
    }

    /**
     * A response on an outbound route; route names come from profiles (bounded by the control
     * plane). Status and classification as {@link #response}: the HTTP status, and a failure
     * when it is 5xx or the gRPC status is not OK.
     */
    public void routeResponse(String authority, String route, int status, java.util.Optional<Integer> grpcStatus, Duration elapsed) {
        String bounded = bounded(authority);
        routeResponses.labelValues("outbound", bounded, route, Integer.toString(status), classification(status, grpcStatus)).inc();
        routeLatency.labelValues("outbound", bounded, route).observe(elapsed.toNanos() / 1e6);
    }

    /** A request the proxy answered itself; reasons are {@link ProxyError} labels, a fixed set. */
    public void refused(String direction, ProxyError error) {
        refused.labelValues(direction, error.label()).inc();
    }

    public void request(String direction, String authority) {
        requests.labelValues(direction, bounded(authority)).inc();
    }

    public void response(String direction, String authority, int status, Duration elapsed) {
        response(direction, authority, status, java.util.Optional.empty(), elapsed);
    }

    /** A response whose gRPC status (from trailers, or trailers-only headers) is known: non-zero is a failure. */
    public void response(String direction, String authority, int status, java.util.Optional<Integer> grpcStatus, Duration elapsed) {
        String bounded = bounded(authority);
        responses.labelValues(direction, bounded, Integer.toString(status), classification(status, grpcStatus)).inc();
        latency.labelValues(direction, bounded).observe(elapsed.toNanos() / 1e6);
    }

    private static String classification(int status, java.util.Optional<Integer> grpcStatus) {
        return status >= 500 || grpcStatus.map(code -> code != 0).orElse(false) ? "failure" : "success";
    }

    private String bounded(String authority) {
        if (authorities.contains(authority) || (authorities.size() < MAX_AUTHORITIES && authorities.add(authority))) {
            return authority;
        }
        return "other";
    }
}
