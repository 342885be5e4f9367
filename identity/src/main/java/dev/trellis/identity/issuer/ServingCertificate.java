package dev.trellis.identity.issuer;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.context.Credentials;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.pki.CertificateRequests;
import dev.trellis.tls.pki.CsrRejectedException;
import dev.trellis.tls.pki.CsrValidator;
import dev.trellis.tls.pki.IssuedLeaf;
import dev.trellis.tls.pki.LeafIssuer;
import java.security.KeyPair;
import java.security.cert.CertificateException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import dev.trellis.tls.pki.EcKeys;

/**
 * The identity service's own TLS certificate: a leaf for the service's identity, signed by
 * the current issuer, so that workloads can check they talk to the real CA with nothing but
 * the trust anchor. Renewed when the issuer changes and when 70 % of its life has passed.
 * Thread-safe.
 */
public final class ServingCertificate {

    private final WorkloadIdentity identity;
    private final CredentialsStore store;
    private final Duration lifetime;
    private final Clock clock;
    private final CsrValidator validator = new CsrValidator();
    private volatile Instant renewAt = Instant.MIN;

    public ServingCertificate(WorkloadIdentity identity, CredentialsStore store, Duration lifetime, Clock clock) {
        this.identity = requireNonNull(identity, "identity");
        this.store = requireNonNull(store, "store");
        this.lifetime = requireNonNull(lifetime, "lifetime");
        this.clock = requireNonNull(clock, "clock");
    }

    public CredentialsStore store() {
        return store;
    }

    /** Issues a new serving certificate from {@code issuer}. */
    public synchronized void renew(LeafIssuer issuer) throws CertificateException {
        KeyPair keys = EcKeys.generateP256();
        Instant now = clock.instant();
        try {
            IssuedLeaf leaf = issuer.issue(validator.validate(CertificateRequests.create(keys, identity), identity), lifetime, now);
            store.install(new Credentials(identity, keys.getPrivate(), leaf.chain()));
            renewAt = now.plusMillis(Duration.between(now, leaf.notAfter()).toMillis() * 7 / 10);
        } catch (CsrRejectedException | LeafIssuer.IssuerExpiredException e) {
            throw new CertificateException("identity: cannot issue the serving certificate for " + identity + ": " + e.getMessage(), e);
        }
    }

    /** Renews when 70 % of the current certificate's life has passed. */
    public void renewIfDue(LeafIssuer issuer) throws CertificateException {
        if (!clock.instant().isBefore(renewAt)) {
            renew(issuer);
        }
    }
}
