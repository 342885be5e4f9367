package dev.trellis.identity.auth;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import java.util.Optional;

/**
 * Who called, as their token proves it: the service account's identity and, when the token
 * is bound to a pod (a projected Kubernetes token names it; a local token may), that pod's
 * name in the identity's namespace.
 */
public record Caller(WorkloadIdentity identity, Optional<String> pod) {
    public Caller {
        requireNonNull(identity, "identity");
        requireNonNull(pod, "pod");
    }

    public static Caller of(WorkloadIdentity identity) {
        return new Caller(identity, Optional.empty());
    }
}
