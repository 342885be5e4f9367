package dev.trellis.proxy.policy;

import dev.trellis.core.metrics.ProxyMetricNames;
import dev.trellis.proxy.metrics.BoundedLabel;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * Authorization, rate-limit and egress counters. Egress is counted by destination host with
 * at most {@value #MAX_EGRESS_HOSTS} distinct hosts; later ones are counted as {@code other},
 * so an app cannot blow up the proxy's metrics. Thread-safe.
 */
public final class PolicyMetrics {

    static final int MAX_EGRESS_HOSTS = 100;

    private final Counter httpAllow;
    private final Counter httpDeny;
    private final Counter tcpAllow;
    private final Counter tcpDeny;
    private final Counter httpAudit;
    private final Counter tcpAudit;
    private final Counter httpRateLimited;
    private final Counter egress;
    private final BoundedLabel egressHosts = new BoundedLabel(MAX_EGRESS_HOSTS);

    public PolicyMetrics(PrometheusRegistry registry) {
        httpAllow = Counter.builder().name("inbound_http_authz_allow").help("Inbound HTTP requests authorized")
                .labelNames(ProxyMetricNames.SERVER_NAME, "authz_name").register(registry);
        httpDeny = Counter.builder().name(ProxyMetricNames.INBOUND_HTTP_AUTHZ_DENY).help("Inbound HTTP requests denied by policy")
                .labelNames(ProxyMetricNames.SERVER_NAME).register(registry);
        tcpAllow = Counter.builder().name("inbound_tcp_authz_allow").help("Inbound TCP connections authorized")
                .labelNames(ProxyMetricNames.SERVER_NAME, "authz_name").register(registry);
        tcpDeny = Counter.builder().name(ProxyMetricNames.INBOUND_TCP_AUTHZ_DENY).help("Inbound TCP connections denied by policy")
                .labelNames(ProxyMetricNames.SERVER_NAME).register(registry);
        httpAudit = Counter.builder().name(ProxyMetricNames.INBOUND_HTTP_AUTHZ_AUDIT)
                .help("Inbound HTTP requests policy would have denied, let through by audit mode").labelNames(ProxyMetricNames.SERVER_NAME).register(registry);
        tcpAudit = Counter.builder().name(ProxyMetricNames.INBOUND_TCP_AUTHZ_AUDIT)
                .help("Inbound TCP connections policy would have denied, let through by audit mode").labelNames(ProxyMetricNames.SERVER_NAME).register(registry);
        httpRateLimited = Counter.builder().name("inbound_http_ratelimit").help("Inbound HTTP requests refused by a rate limit (429)")
                .labelNames(ProxyMetricNames.SERVER_NAME).register(registry);
        egress = Counter.builder().name("outbound_egress").help("Connections and requests leaving the mesh, by host and decision")
                .labelNames("host", "decision").register(registry);
    }

    /** A decision on an HTTP request: allowed, denied, or (audit mode) a would-be denial let through. */
    public void http(InboundAuthorizer.Decision decision) {
        if (decision.allowed()) {
            httpAllow.labelValues(decision.server(), decision.authorization()).inc();
        } else if (decision.audit()) {
            httpAudit.labelValues(decision.server()).inc();
        } else {
            httpDeny.labelValues(decision.server()).inc();
        }
    }

    /** A decision on a connection: allowed, denied, or (audit mode) a would-be denial let through. */
    public void tcp(InboundAuthorizer.Decision decision) {
        if (decision.allowed()) {
            tcpAllow.labelValues(decision.server(), decision.authorization()).inc();
        } else if (decision.audit()) {
            tcpAudit.labelValues(decision.server()).inc();
        } else {
            tcpDeny.labelValues(decision.server()).inc();
        }
    }

    public void rateLimited(String server) {
        httpRateLimited.labelValues(server).inc();
    }

    public void egress(String host, EgressAuthorizer.Decision decision) {
        egress.labelValues(egressHosts.value(host), decision.logValue()).inc();
    }
}
