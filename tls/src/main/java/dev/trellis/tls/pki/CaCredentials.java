package dev.trellis.tls.pki;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A certificate authority's certificate, its key, and the chain above it up to (not
 * including) the trust anchor. For the trust anchor itself the chain is empty; for the
 * usual issuer it is empty too (the issuer is signed directly by the anchor).
 */
public record CaCredentials(X509Certificate certificate, PrivateKey key, List<X509Certificate> chainAbove) {

    public CaCredentials {
        requireNonNull(certificate, "certificate");
        requireNonNull(key, "key");
        chainAbove = List.copyOf(chainAbove);
        if (!EcKeys.matches(key, certificate.getPublicKey())) {
            throw new IllegalArgumentException("tls: the CA key does not belong to the certificate " + certificate.getSubjectX500Principal().getName());
        }
        if (certificate.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("tls: " + certificate.getSubjectX500Principal().getName() + " is not a CA certificate (basicConstraints CA:false)");
        }
    }

    /** Reads an issuer as cert-manager and {@code trellis identity bootstrap} write it: certificate file (issuer first), key file. */
    public static CaCredentials read(Path certificateFile, Path keyFile) throws IOException {
        List<X509Certificate> certificates = Pem.readCertificates(certificateFile);
        PrivateKey key = Pem.readPrivateKey(keyFile);
        try {
            return new CaCredentials(certificates.getFirst(), key, certificates.subList(1, certificates.size()));
        } catch (IllegalArgumentException e) {
            throw new IOException(certificateFile + " + " + keyFile + ": " + e.getMessage(), e);
        }
    }

    /** The issuer certificate followed by the chain above it: what a leaf's chain continues with. */
    public List<X509Certificate> chain() {
        return java.util.stream.Stream.concat(java.util.stream.Stream.of(certificate), chainAbove.stream()).toList();
    }
}
