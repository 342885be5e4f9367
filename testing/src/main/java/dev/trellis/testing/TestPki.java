package dev.trellis.testing;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.context.Credentials;
import dev.trellis.tls.pki.CaCertificates;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.CertificateRequests;
import dev.trellis.tls.pki.CsrValidator;
import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.IssuedLeaf;
import dev.trellis.tls.pki.LeafIssuer;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.TrustAnchors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A real mesh PKI for tests: a trust anchor, an issuer and a token key, written as the same
 * files {@code trellis identity bootstrap} writes, in a directory the test owns.
 */
public final class TestPki {

    public static final String TRUST_DOMAIN = "cluster.local";

    private final Path dir;
    private final CaCredentials anchor;
    private CaCredentials issuer;
    private final KeyPair tokenKey;

    private TestPki(Path dir) {
        this.dir = dir;
        Instant now = Instant.now();
        this.anchor = CaCertificates.newTrustAnchor(TRUST_DOMAIN, Duration.ofDays(365), now);
        this.issuer = CaCertificates.newIssuer(anchor, TRUST_DOMAIN, Duration.ofDays(30), now);
        this.tokenKey = EcKeys.generateP256();
        try {
            Pem.writePublic(trustAnchorFile(), Pem.encodeCertificates(List.of(anchor.certificate())), true);
            writeIssuer(issuer);
            Pem.writeSecret(tokenKeyFile(), Pem.encodePrivateKey(tokenKey.getPrivate()), true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A new PKI written into {@code dir}. */
    public static TestPki create(Path dir) {
        return new TestPki(dir);
    }

    public Path dir() {
        return dir;
    }

    public Path trustAnchorFile() {
        return dir.resolve("trust-anchor.pem");
    }

    public Path issuerCertificateFile() {
        return dir.resolve("issuer.pem");
    }

    public Path issuerKeyFile() {
        return dir.resolve("issuer-key.pem");
    }

    public Path tokenKeyFile() {
        return dir.resolve("token-key.pem");
    }

    public CaCredentials anchor() {
        return anchor;
    }

    public CaCredentials issuer() {
        return issuer;
    }

    public KeyPair tokenKey() {
        return tokenKey;
    }

    public TrustAnchors trustAnchors() {
        return TrustAnchors.of(List.of(anchor.certificate()));
    }

    /** Replaces the issuer files with a new issuer under the same anchor, as cert-manager would. */
    public CaCredentials rotateIssuer() {
        issuer = CaCertificates.newIssuer(anchor, TRUST_DOMAIN, Duration.ofDays(30), Instant.now());
        writeIssuer(issuer);
        return issuer;
    }

    /** Credentials for {@code identity} issued directly (no identity service), valid for {@code lifetime}. */
    public Credentials credentialsFor(WorkloadIdentity identity, Duration lifetime) {
        KeyPair keys = EcKeys.generateP256();
        try {
            IssuedLeaf leaf = new LeafIssuer(issuer).issue(
                    new CsrValidator().validate(CertificateRequests.create(keys, identity), identity), lifetime, Instant.now());
            return new Credentials(identity, keys.getPrivate(), leaf.chain());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public static WorkloadIdentity identity(String namespace, String serviceAccount) {
        return new WorkloadIdentity(TRUST_DOMAIN, namespace, serviceAccount);
    }

    private void writeIssuer(CaCredentials credentials) {
        try {
            // Key first: a reader that sees the new certificate with the old key rejects the
            // pair and tries again at its next poll, which is what cert-manager's readers see too.
            Pem.writeSecret(issuerKeyFile(), Pem.encodePrivateKey(credentials.key()), true);
            Pem.writePublic(issuerCertificateFile(), Pem.encodeCertificates(credentials.chain()), true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
