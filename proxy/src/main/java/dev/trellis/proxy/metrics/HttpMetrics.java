package dev.trellis.proxy.metrics;

import static dev.trellis.core.metrics.ProxyMetricNames.AUTHORITY;
import static dev.trellis.core.metrics.ProxyMetricNames.CLASSIFICATION;
import static dev.trellis.core.metrics.ProxyMetricNames.CLIENT_ID;
import static dev.trellis.core.metrics.ProxyMetricNames.DIRECTION;
import static dev.trellis.core.metrics.ProxyMetricNames.DST_NAMESPACE;
import static dev.trellis.core.metrics.ProxyMetricNames.DST_SERVICE;
import static dev.trellis.core.metrics.ProxyMetricNames.FAILURE;
import static dev.trellis.core.metrics.ProxyMetricNames.INBOUND_REQUESTS_BY_CLIENT;
import static dev.trellis.core.metrics.ProxyMetricNames.OUTBOUND;
import static dev.trellis.core.metrics.ProxyMetricNames.RESPONSE;
import static dev.trellis.core.metrics.ProxyMetricNames.RESPONSE_LATENCY_MS;
import static dev.trellis.core.metrics.ProxyMetricNames.ROUTE;
import static dev.trellis.core.metrics.ProxyMetricNames.ROUTE_KIND;
import static dev.trellis.core.metrics.ProxyMetricNames.ROUTE_RESPONSE;
import static dev.trellis.core.metrics.ProxyMetricNames.ROUTE_RESPONSE_LATENCY_MS;
import static dev.trellis.core.metrics.ProxyMetricNames.STATUS_CODE;
import static dev.trellis.core.metrics.ProxyMetricNames.SUCCESS;

import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.errors.ProxyError;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;

/**
 * Request metrics: {@code request_total}, {@code response_total} (status code and
 * classification: a 5xx, or a non-zero gRPC status, is a failure), {@code response_latency_ms}. Authorities are capped at {@value ProxyMetrics#MAX_AUTHORITIES} values per
 * proxy ({@code other} beyond).
 */
public final class HttpMetrics {

    private final Counter requests;
    private final Counter responses;
    private final Histogram latency;
    private final Counter routeResponses;
    private final Counter inboundByClient;
    private final BoundedLabel clients = new BoundedLabel(ProxyMetrics.MAX_PEERS);
    private final Histogram routeLatency;
    private final BoundedLabel authorities = new BoundedLabel(ProxyMetrics.MAX_AUTHORITIES);
    private final Counter refused;

    public HttpMetrics(PrometheusRegistry registry) {
        refused = Counter.builder().name(dev.trellis.core.metrics.ProxyMetricNames.REQUEST_REFUSED).help("HTTP requests the proxy refused or failed itself, by reason")
                .labelNames(DIRECTION, dev.trellis.core.metrics.ProxyMetricNames.REASON).register(registry);
        requests = Counter.builder().name("request").help("HTTP requests").labelNames(DIRECTION, AUTHORITY).register(registry);
        responses = Counter.builder().name(RESPONSE).help("HTTP responses")
                .labelNames(DIRECTION, AUTHORITY, STATUS_CODE, CLASSIFICATION).register(registry);
        latency = Histogram.builder().name(RESPONSE_LATENCY_MS).help("Time to the response head, in milliseconds")
                .labelNames(DIRECTION, AUTHORITY)
                .classicUpperBounds(1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 60000)
                .register(registry);
        inboundByClient = Counter.builder().name(INBOUND_REQUESTS_BY_CLIENT).help("Inbound HTTP requests by the caller's mesh identity")
                .labelNames(CLIENT_ID).register(registry);
        routeResponses = Counter.builder().name(ROUTE_RESPONSE).help("HTTP responses by route of the destination's profile")
                .labelNames(DIRECTION, AUTHORITY, DST_NAMESPACE, DST_SERVICE, ROUTE, ROUTE_KIND, STATUS_CODE, CLASSIFICATION).register(registry);
        routeLatency = Histogram.builder().name(ROUTE_RESPONSE_LATENCY_MS).help("Time to the response head by route, in milliseconds")
                .labelNames(DIRECTION, AUTHORITY, DST_NAMESPACE, DST_SERVICE, ROUTE, ROUTE_KIND)
                .classicUpperBounds(1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 60000)
                .register(registry);
    }

    /** An inbound request from mesh identity {@code clientId} (at most {@value ProxyMetrics#MAX_PEERS} identities per proxy; {@code other} beyond). */
    public void inboundFrom(String clientId) {
        inboundByClient.labelValues(clients.value(clientId)).inc();
    }

    /**
     * The Service a request went to, from discovery's labels of its endpoints ({@code namespace},
     * {@code service}); {@link #UNKNOWN} when discovery named none. Bounded by the cluster's
     * Services, which the control plane reports, not by what a client sends.
     */
    public record Destination(String namespace, String service) {
        public static final Destination UNKNOWN = new Destination("", "");

        public Destination {
            java.util.Objects.requireNonNull(namespace, "namespace");
            java.util.Objects.requireNonNull(service, "service");
        }

        public static Destination of(java.util.Map<String, String> discoveryLabels) {
            String namespace = discoveryLabels.getOrDefault("namespace", "");
            String service = discoveryLabels.getOrDefault("service", "");
            return namespace.isEmpty() || service.isEmpty() ? UNKNOWN : new Destination(namespace, service);
        }
    }

    /**
     * A response on an outbound route; route names come from profiles (bounded by the control
     * plane). Status and classification as {@link #response}: the HTTP status, and a failure
     * when it is 5xx or the gRPC status is not OK.
     */
    public void routeResponse(String authority, Destination destination, String route, String routeKind, int status,
                              java.util.Optional<Integer> grpcStatus, Duration elapsed) {
        String bounded = authorities.value(authority);
        routeResponses.labelValues(OUTBOUND, bounded, destination.namespace(), destination.service(), route, routeKind, statusLabel(status),
                classification(status, grpcStatus)).inc();
        routeLatency.labelValues(OUTBOUND, bounded, destination.namespace(), destination.service(), route, routeKind).observe(elapsed.toNanos() / 1e6);
    }

    /** A request the proxy answered itself; reasons are {@link ProxyError} labels, a fixed set. */
    public void refused(Direction direction, ProxyError error) {
        refused.labelValues(direction.label(), error.label()).inc();
    }

    public void request(Direction direction, String authority) {
        requests.labelValues(direction.label(), authorities.value(authority)).inc();
    }

    public void response(Direction direction, String authority, int status, Duration elapsed) {
        response(direction, authority, status, java.util.Optional.empty(), elapsed);
    }

    /** A response whose gRPC status (from trailers, or trailers-only headers) is known: non-zero is a failure. */
    public void response(Direction direction, String authority, int status, java.util.Optional<Integer> grpcStatus, Duration elapsed) {
        String bounded = authorities.value(authority);
        responses.labelValues(direction.label(), bounded, statusLabel(status), classification(status, grpcStatus)).inc();
        latency.labelValues(direction.label(), bounded).observe(elapsed.toNanos() / 1e6);
    }

    /** The status as a label: the standard codes' text is made once, not once per response. */
    private static String statusLabel(int status) {
        return HttpResponseStatus.valueOf(status).codeAsText().toString();
    }

    private static String classification(int status, java.util.Optional<Integer> grpcStatus) {
        return status >= 500 || grpcStatus.map(code -> code != 0).orElse(false) ? FAILURE : SUCCESS;
    }
}
