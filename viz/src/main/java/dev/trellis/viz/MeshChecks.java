package dev.trellis.viz;

import static java.util.Objects.requireNonNull;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The control-plane page's checks wherever viz runs: the checks of the components beside it
 * (supplied by the process: the demo asks each one's {@code /ready}, {@code viz serve} its own
 * certificate and cluster state), then what viz itself sees — every meshed proxy scraped,
 * every proxy certificate valid — and the issuer's remaining life (more than
 * {@link #ISSUER_WARNING}). Thread-safe when the suppliers are.
 */
public final class MeshChecks implements ControlPlaneStatus {

    /** An issuer that ends sooner than this fails its check (as {@code trellis check} warns). */
    public static final Duration ISSUER_WARNING = Duration.ofDays(60);

    private final Viz viz;
    private final Supplier<List<Check>> components;
    private final Supplier<Optional<Instant>> issuerNotAfter;
    private final Clock clock;

    public MeshChecks(Viz viz, Supplier<List<Check>> components, Supplier<Optional<Instant>> issuerNotAfter, Clock clock) {
        this.viz = requireNonNull(viz, "viz");
        this.components = requireNonNull(components, "components");
        this.issuerNotAfter = requireNonNull(issuerNotAfter, "issuerNotAfter");
        this.clock = requireNonNull(clock, "clock");
    }

    @Override
    public List<Check> checks() {
        List<Check> checks = new ArrayList<>(components.get());
        var errors = viz.scrapeErrors();
        checks.add(new Check("every meshed proxy's metrics reach viz over mTLS", errors.isEmpty(),
                errors.isEmpty() ? "all of them" : errors.size() + " do not: " + String.join(", ", errors.keySet())));
        Instant now = clock.instant();
        var certificates = viz.certificates();
        long expired = certificates.stream().filter(c -> !c.notAfter().isAfter(now)).count();
        checks.add(new Check("every proxy's certificate is valid", expired == 0, certificates.size() + " certificates, " + expired + " expired"));
        issuerNotAfter().ifPresent(notAfter -> checks.add(new Check("the issuer certificate is valid for more than " + ISSUER_WARNING.toDays() + " days",
                notAfter.isAfter(now.plus(ISSUER_WARNING)), "valid until " + notAfter)));
        return checks;
    }

    @Override
    public Optional<Instant> issuerNotAfter() {
        return issuerNotAfter.get();
    }
}
