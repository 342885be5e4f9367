package dev.trellis.tls.pki;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.PublicKey;

/**
 * A CSR that passed {@link CsrValidator}: a P-256 public key proven by signature, for
 * exactly {@code identity}. Only the validator makes these, so a leaf is only ever issued
 * for a validated request.
 */
public final class ValidatedCsr {

    private final WorkloadIdentity identity;
    private final PublicKey publicKey;

    ValidatedCsr(WorkloadIdentity identity, PublicKey publicKey) {
        this.identity = requireNonNull(identity, "identity");
        this.publicKey = requireNonNull(publicKey, "publicKey");
    }

    public WorkloadIdentity identity() {
        return identity;
    }

    public PublicKey publicKey() {
        return publicKey;
    }
}
