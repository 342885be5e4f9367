package dev.trellis.viz;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What the dashboard's control-plane page shows besides the proxies' certificates: the checks
 * of {@code trellis check} that apply where viz runs, and the issuer certificate's expiry.
 * Supplied by the process that runs viz (the demo, or {@code viz serve}); may block briefly
 * (a check asks a component's readiness), and must be thread-safe.
 */
public interface ControlPlaneStatus {

    /** One check: its name, whether it passed, and what was found. */
    record Check(String name, boolean ok, String detail) {}

    List<Check> checks();

    /** The notAfter of the issuer certificate that signs the proxies' certificates, when known here. */
    Optional<Instant> issuerNotAfter();

    /** Nothing known: no checks, no issuer. */
    ControlPlaneStatus NONE = new ControlPlaneStatus() {
        @Override
        public List<Check> checks() {
            return List.of();
        }

        @Override
        public Optional<Instant> issuerNotAfter() {
            return Optional.empty();
        }
    };
}
