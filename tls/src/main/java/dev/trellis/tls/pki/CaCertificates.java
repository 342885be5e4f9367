package dev.trellis.tls.pki;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Creates the two CA certificates of a mesh: the self-signed trust anchor (root) and the
 * issuer (intermediate, path length 0) that the identity service signs leaves with.
 */
public final class CaCertificates {

    /** Default trust-anchor lifetime: long-lived and kept offline. */
    public static final Duration DEFAULT_ANCHOR_LIFETIME = Duration.ofDays(3650);
    /** Default issuer lifetime: one year, rotated by replacing the issuer files. */
    public static final Duration DEFAULT_ISSUER_LIFETIME = Duration.ofDays(365);

    private static final SecureRandom RANDOM = new SecureRandom();

    private CaCertificates() {}

    /** A new self-signed root for the trust domain. */
    public static CaCredentials newTrustAnchor(String trustDomain, Duration lifetime, Instant now) {
        KeyPair keys = EcKeys.generateP256();
        X500Name name = commonName("root.trellis." + trustDomain);
        X509Certificate certificate = sign(name, keys.getPublic(), name, keys.getPrivate(), null, -1, lifetime, now);
        return new CaCredentials(certificate, keys.getPrivate(), List.of());
    }

    /** A new issuer signed by {@code anchor}, valid no longer than the anchor. */
    public static CaCredentials newIssuer(CaCredentials anchor, String trustDomain, Duration lifetime, Instant now) {
        KeyPair keys = EcKeys.generateP256();
        X500Name name = commonName("identity.trellis." + trustDomain);
        X500Name issuerName = X500Name.getInstance(anchor.certificate().getSubjectX500Principal().getEncoded());
        X509Certificate certificate = sign(name, keys.getPublic(), issuerName, anchor.key(), anchor.certificate(), 0, lifetime, now);
        return new CaCredentials(certificate, keys.getPrivate(), anchor.chainAbove().isEmpty() && isSelfSigned(anchor.certificate()) ? List.of() : anchor.chain());
    }

    static BigInteger newSerial() {
        // 127 random bits: positive, unique in practice, and under the 20-octet limit.
        return new BigInteger(127, RANDOM).setBit(126);
    }

    private static boolean isSelfSigned(X509Certificate certificate) {
        return certificate.getSubjectX500Principal().equals(certificate.getIssuerX500Principal());
    }

    /**
     * {@code CN=<name>}, cut to the 64 characters RFC 5280 allows a common name: it only labels
     * the certificate (names are checked in its subjectAltName), and a long namespace or trust
     * domain must not make a valid installation fail.
     */
    static X500Name commonName(String name) {
        return new X500Name("CN=" + (name.length() <= 64 ? name : name.substring(0, 64)));
    }

    private static X509Certificate sign(X500Name subject, PublicKey subjectKey, X500Name issuer, PrivateKey issuerKey,
                                        X509Certificate issuerCertificate, int pathLength, Duration lifetime, Instant now) {
        try {
            Instant notBefore = now.minus(LeafIssuer.CLOCK_SKEW);
            Instant notAfter = now.plus(lifetime);
            if (issuerCertificate != null && notAfter.isAfter(issuerCertificate.getNotAfter().toInstant())) {
                notAfter = issuerCertificate.getNotAfter().toInstant();
            }
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    issuer, newSerial(), Date.from(notBefore), Date.from(notAfter), subject, subjectKey);
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true,
                    pathLength < 0 ? new BasicConstraints(true) : new BasicConstraints(pathLength));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            builder.addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(subjectKey));
            if (issuerCertificate != null) {
                builder.addExtension(Extension.authorityKeyIdentifier, false, extensions.createAuthorityKeyIdentifier(issuerCertificate));
            }
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder(EcKeys.SIGNATURE_ALGORITHM).build(issuerKey)));
        } catch (GeneralSecurityException | OperatorCreationException | CertIOException e) {
            throw new IllegalStateException("tls: cannot sign CA certificate " + subject + ": " + e.getMessage(), e);
        }
    }
}
