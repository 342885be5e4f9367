package dev.trellis.tls.pki;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The roots that mesh certificates must chain to. Immutable; safe to share between threads.
 * Verification is PKIX without revocation (mesh leaves live a day; short life replaces CRLs).
 */
public final class TrustAnchors {

    private final List<X509Certificate> certificates;
    private final Set<TrustAnchor> anchors;

    private TrustAnchors(List<X509Certificate> certificates) {
        if (certificates.isEmpty()) {
            throw new IllegalArgumentException("tls: no trust anchor");
        }
        for (X509Certificate certificate : certificates) {
            if (certificate.getBasicConstraints() < 0) {
                throw new IllegalArgumentException("tls: trust anchor " + certificate.getSubjectX500Principal().getName() + " is not a CA certificate");
            }
        }
        this.certificates = List.copyOf(certificates);
        this.anchors = certificates.stream().map(c -> new TrustAnchor(c, null)).collect(Collectors.toUnmodifiableSet());
    }

    /** Anchors from certificates (one or more roots, e.g. old and new during a root rotation). */
    public static TrustAnchors of(List<X509Certificate> certificates) {
        return new TrustAnchors(requireNonNull(certificates, "certificates"));
    }

    /** Anchors from a PEM file. */
    public static TrustAnchors read(Path file) throws IOException {
        try {
            return new TrustAnchors(Pem.readCertificates(file));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Anchors from PEM text; {@code source} names it in errors (an environment variable, a ConfigMap key). */
    public static TrustAnchors parse(String pem, String source) throws IOException {
        try {
            return new TrustAnchors(Pem.parseCertificates(pem, source));
        } catch (IllegalArgumentException e) {
            throw new IOException(source + ": " + e.getMessage(), e);
        }
    }

    public List<X509Certificate> certificates() {
        return certificates;
    }

    /**
     * Verifies that {@code chain} (leaf first, without the anchor) chains to one of these
     * anchors and is valid at {@code at}.
     *
     * @throws CertificateException naming what failed
     */
    public void verify(List<X509Certificate> chain, Instant at) throws CertificateException {
        if (chain.isEmpty()) {
            throw new CertificateException("tls: empty certificate chain");
        }
        // A peer may send the anchor as the last element; PKIX wants it left out.
        List<X509Certificate> path = chain;
        X509Certificate last = chain.getLast();
        if (chain.size() > 1 && certificates.contains(last)) {
            path = chain.subList(0, chain.size() - 1);
        }
        try {
            CertPath certPath = CertificateFactory.getInstance("X.509").generateCertPath(path);
            PKIXParameters parameters = new PKIXParameters(anchors);
            parameters.setRevocationEnabled(false);
            parameters.setDate(Date.from(at));
            CertPathValidator.getInstance("PKIX").validate(certPath, parameters);
        } catch (GeneralSecurityException e) {
            throw new CertificateException("tls: certificate " + describe(chain.getFirst())
                    + " does not verify against the trust anchors: " + e.getMessage(), e);
        }
    }

    /** A certificate as people know it: its mesh identity, else its subject, else its serial (mesh leaves have an empty subject). */
    public static String describe(X509Certificate certificate) {
        try {
            return MeshCertificates.identityOf(certificate).toString();
        } catch (CertificateException notMesh) {
            String subject = certificate.getSubjectX500Principal().getName();
            return subject.isEmpty() ? "with serial " + certificate.getSerialNumber().toString(16) : subject;
        }
    }

    /**
     * Verifies {@code chain} as {@link #verify} does and returns the mesh identity of its leaf.
     *
     * @throws CertificateException when the chain does not verify or the leaf names no single mesh identity
     */
    public WorkloadIdentity verifyLeaf(List<X509Certificate> chain, Instant at) throws CertificateException {
        verify(chain, at);
        return MeshCertificates.identityOf(chain.getFirst());
    }
}
