package dev.trellis.injector.webhook;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/** The webhook's metrics: admissions by outcome and reason, and how long each took. */
public final class InjectorMetrics {

    private final Counter admissions;
    private final Histogram duration;

    public InjectorMetrics(PrometheusRegistry registry) {
        this.admissions = Counter.builder().name("injector_admissions_total")
                .help("Admission reviews by outcome (injected, skipped, refused, error, bad_request) and reason")
                .labelNames("outcome", "reason").register(registry);
        this.duration = Histogram.builder().name("injector_admission_duration_seconds")
                .help("Time to answer an admission review").classicUpperBounds(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)
                .register(registry);
    }

    void admission(String outcome, String reason) {
        admissions.labelValues(outcome, reason).inc();
    }

    void latency(long nanos) {
        duration.observe(nanos / 1e9);
    }
}
