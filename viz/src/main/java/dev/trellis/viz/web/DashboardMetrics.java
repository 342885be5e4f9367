package dev.trellis.viz.web;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * The dashboard's counters, on the admin listener of the process that runs it:
 * {@code dashboard_refused_total{reason}} (every refusal, by the fixed reason it is logged with)
 * and {@code dashboard_logins_total{how}} ({@code code} or {@code token}). Thread-safe.
 */
final class DashboardMetrics {

    private final Counter refused;
    private final Counter logins;

    DashboardMetrics(PrometheusRegistry registry) {
        refused = Counter.builder().name("dashboard_refused").help("Dashboard requests refused, by reason").labelNames("reason").register(registry);
        logins = Counter.builder().name("dashboard_logins").help("Dashboard logins and token logins, by how").labelNames("how").register(registry);
    }

    void refused(String reason) {
        refused.labelValues(reason).inc();
    }

    void loggedIn(String how) {
        logins.labelValues(how).inc();
    }
}
