package dev.trellis.admin;

import java.util.Optional;

/** Tells whether a component is ready to serve; when it is not, why. Called on every {@code /ready}. */
@FunctionalInterface
public interface Readiness {

    /** Empty when ready; otherwise the reason it is not, e.g. "no issuer loaded". */
    Optional<String> notReadyReason();
}
