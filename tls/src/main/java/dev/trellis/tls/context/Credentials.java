package dev.trellis.tls.context;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.EcKeys;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/**
 * What a workload presents in a TLS handshake: its private key and its certificate chain
 * (leaf first, without the trust anchor), for its identity.
 */
public record Credentials(WorkloadIdentity identity, PrivateKey key, List<X509Certificate> chain) {

    public Credentials {
        requireNonNull(identity, "identity");
        requireNonNull(key, "key");
        chain = List.copyOf(chain);
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("tls: credentials for " + identity + " have no certificate");
        }
        if (!EcKeys.matches(key, chain.getFirst().getPublicKey())) {
            throw new IllegalArgumentException("tls: credentials for " + identity + ": key does not belong to the leaf certificate");
        }
    }

    public X509Certificate leaf() {
        return chain.getFirst();
    }

    public Instant notBefore() {
        return leaf().getNotBefore().toInstant();
    }

    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }
}
