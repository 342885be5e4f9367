package dev.trellis.core.metrics;

/**
 * The names of the proxy metrics viz reads, and their labels. The proxy registers each family
 * under its name ({@code response}); a counter's samples carry {@code _total} and a histogram's
 * {@code _bucket} in the exposition, as {@link #total} and {@link #bucket} spell them. Both sides
 * use these constants, and a contract test in the proxy module feeds what the proxy writes to
 * what viz reads.
 */
public final class ProxyMetricNames {

    /** HTTP responses: {@link #DIRECTION}, {@link #AUTHORITY}, {@link #STATUS_CODE}, {@link #CLASSIFICATION}. */
    public static final String RESPONSE = "response";
    /** Time to the response head, ms: {@link #DIRECTION}, {@link #AUTHORITY}. */
    public static final String RESPONSE_LATENCY_MS = "response_latency_ms";
    /**
     * Outbound responses by the destination profile's route: as {@link #RESPONSE} plus {@link #ROUTE},
     * {@link #DST_NAMESPACE} and {@link #DST_SERVICE}.
     */
    public static final String ROUTE_RESPONSE = "route_response";
    /** As {@link #RESPONSE_LATENCY_MS}, by route. */
    public static final String ROUTE_RESPONSE_LATENCY_MS = "route_response_latency_ms";
    /** Inbound HTTP requests by the caller's mesh identity: {@link #CLIENT_ID}. */
    public static final String INBOUND_REQUESTS_BY_CLIENT = "inbound_requests_by_client";
    /** TCP connections opened: {@link #DIRECTION}, {@link #AUTHORITY}, {@link #TLS}, {@link #PEER_ID}. */
    public static final String TCP_OPEN = "tcp_open";
    /** TCP connections open now (a gauge), labelled as {@link #TCP_OPEN}. */
    public static final String TCP_OPEN_CONNECTIONS = "tcp_open_connections";
    /** Bytes read from a connection's client side, labelled as {@link #TCP_OPEN}. */
    public static final String TCP_READ_BYTES = "tcp_read_bytes";
    /** Bytes written to a connection's client side, labelled as {@link #TCP_OPEN}. */
    public static final String TCP_WRITE_BYTES = "tcp_write_bytes";

    /** {@code inbound} or {@code outbound}. */
    public static final String DIRECTION = "direction";
    public static final String INBOUND = "inbound";
    public static final String OUTBOUND = "outbound";
    /** The {@code host:port} called; bounded per proxy, {@code other} beyond. */
    public static final String AUTHORITY = "authority";
    public static final String STATUS_CODE = "status_code";
    /** {@link #SUCCESS} or {@link #FAILURE} (a 5xx, or a non-zero gRPC status). */
    public static final String CLASSIFICATION = "classification";
    public static final String SUCCESS = "success";
    public static final String FAILURE = "failure";
    /** The profile's route name, {@code [default]} when none matched. */
    public static final String ROUTE = "rt_route";
    /** Where a route comes from: {@code HTTPRoute} or {@code GRPCRoute} (Gateway API), {@code TrellisRoute}, or empty for {@code [default]}. */
    public static final String ROUTE_KIND = "rt_route_kind";
    /** The namespace of the Service a request went to, as discovery names it; empty when unknown. */
    public static final String DST_NAMESPACE = "dst_namespace";
    /** The name of the Service a request went to (whatever authority the app used: a name or a clusterIP); empty when unknown. */
    public static final String DST_SERVICE = "dst_service";
    /** The caller's SPIFFE ID. */
    public static final String CLIENT_ID = "client_id";
    /** {@link #TLS_MUTUAL} for a connection with a mesh identity, else {@code no_identity}. */
    public static final String TLS = "tls";
    public static final String TLS_MUTUAL = "true";
    public static final String TLS_NONE = "no_identity";
    /** The other side's SPIFFE ID, empty when it has none. */
    public static final String PEER_ID = "peer_id";
    /** A histogram bucket's upper bound. */
    public static final String LE = "le";
    /** HTTP requests the proxy answered itself: {@link #DIRECTION}, {@link #REASON}. */
    public static final String REQUEST_REFUSED = "request_refused";
    /** Connections the proxy refused or failed: {@link #DIRECTION}, {@link #REASON}. */
    public static final String TCP_REFUSED = "tcp_refused";
    /** Why the proxy refused: a proxy error label. */
    public static final String REASON = "reason";
    /** Inbound HTTP requests denied by policy: {@link #SERVER_NAME}. */
    public static final String INBOUND_HTTP_AUTHZ_DENY = "inbound_http_authz_deny";
    /** Inbound TCP connections denied by policy: {@link #SERVER_NAME}. */
    public static final String INBOUND_TCP_AUTHZ_DENY = "inbound_tcp_authz_deny";
    /**
     * Inbound HTTP requests policy would have denied and audit mode let through (a Server's
     * {@code accessPolicy: audit}, or the default policy {@code audit}): {@link #SERVER_NAME}.
     */
    public static final String INBOUND_HTTP_AUTHZ_AUDIT = "inbound_http_authz_audit";
    /** Inbound TCP connections policy would have denied and audit mode let through: {@link #SERVER_NAME}. */
    public static final String INBOUND_TCP_AUTHZ_AUDIT = "inbound_tcp_authz_audit";
    /** The Server (policy resource) a decision was made under. */
    public static final String SERVER_NAME = "srv_name";
    /** The Prometheus job the proxies are scraped in (through viz's bridge), wherever viz configures one. */
    public static final String PROMETHEUS_JOB = "trellis-proxies";
    /** Gauge: notAfter of the proxy's current certificate, in Unix seconds. */
    public static final String CERT_EXPIRY = "identity_cert_expiration_timestamp_seconds";

    private ProxyMetricNames() {
    }

    /** The sample name of counter {@code family}. */
    public static String total(String family) {
        return family + "_total";
    }

    /** The bucket sample name of histogram {@code family}. */
    public static String bucket(String family) {
        return family + "_bucket";
    }
}
