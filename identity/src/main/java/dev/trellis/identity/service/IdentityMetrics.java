package dev.trellis.identity.service;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

/** The identity service's metrics, registered in one registry the admin server exposes. */
public final class IdentityMetrics {

    final Counter issued;
    final Counter refused;
    final Counter rateLimited;
    final Histogram signingSeconds;
    final Gauge issuerExpiry;
    final Counter issuerReloads;

    public IdentityMetrics(PrometheusRegistry registry) {
        issued = Counter.builder().name("identity_certs_issued")
                .help("Leaf certificates issued").register(registry);
        refused = Counter.builder().name("identity_certs_refused")
                .help("Certify calls refused, by reason").labelNames("reason").register(registry);
        rateLimited = Counter.builder().name("identity_rate_limited")
                .help("Certify calls refused by a rate limit, by scope (peer, identity, signing)").labelNames("scope").register(registry);
        signingSeconds = Histogram.builder().name("identity_signing_duration_seconds")
                .help("Time to validate a CSR and sign its leaf").unit(Unit.SECONDS)
                .classicUpperBounds(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
                .register(registry);
        issuerExpiry = Gauge.builder().name("identity_issuer_expiry_timestamp_seconds")
                .help("notAfter of the issuer in force, in Unix seconds").register(registry);
        issuerReloads = Counter.builder().name("identity_issuer_reloads")
                .help("Issuer file reloads, by result (loaded, rejected)").labelNames("result").register(registry);
    }

    /** Records a reload outcome. */
    public void issuerLoaded(java.time.Instant notAfter) {
        issuerReloads.labelValues("loaded").inc();
        issuerExpiry.set(notAfter.getEpochSecond());
    }

    public void issuerRejected() {
        issuerReloads.labelValues("rejected").inc();
    }
}
