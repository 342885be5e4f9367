package dev.trellis.tls.pki;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Plain web PKI for a server the Kubernetes API server calls (the injector's admission
 * webhook): a CA of its own — not the mesh's trust anchor, so a mesh leaf can never pass for
 * the webhook and a webhook certificate never for a mesh identity — and a serving certificate
 * for DNS names, signed by it. The CA's certificate is the webhook configuration's caBundle.
 */
public final class ServingCertificates {

    /** A server's certificate and key. */
    public record Serving(X509Certificate certificate, PrivateKey key) {}

    private ServingCertificates() {}

    /** A new self-signed CA named {@code CN=<name>} that may sign only end-entity certificates. */
    public static CaCredentials newCa(String name, Duration lifetime, Instant now) {
        KeyPair keys = EcKeys.generateP256();
        X500Name subject = CaCertificates.commonName(name);
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, CaCertificates.newSerial(),
                    Date.from(now.minus(LeafIssuer.CLOCK_SKEW)), Date.from(now.plus(lifetime)), subject, keys.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            builder.addExtension(Extension.subjectKeyIdentifier, false, new JcaX509ExtensionUtils().createSubjectKeyIdentifier(keys.getPublic()));
            return new CaCredentials(sign(builder, keys.getPrivate()), keys.getPrivate(), List.of());
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("tls: cannot create CA " + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * A serving certificate for {@code dnsNames} (the first, cut to 64 characters, is also its common name), signed by
     * {@code ca}, valid no longer than the CA.
     */
    public static Serving issue(CaCredentials ca, List<String> dnsNames, Duration lifetime, Instant now) {
        if (dnsNames.isEmpty()) {
            throw new IllegalArgumentException("tls: a serving certificate needs at least one DNS name");
        }
        KeyPair keys = EcKeys.generateP256();
        Instant notAfter = now.plus(lifetime);
        if (notAfter.isAfter(ca.certificate().getNotAfter().toInstant())) {
            notAfter = ca.certificate().getNotAfter().toInstant();
        }
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    X500Name.getInstance(ca.certificate().getSubjectX500Principal().getEncoded()), CaCertificates.newSerial(),
                    Date.from(now.minus(LeafIssuer.CLOCK_SKEW)), Date.from(notAfter), CaCertificates.commonName(dnsNames.getFirst()), keys.getPublic());
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            builder.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(dnsNames.stream().map(n -> new GeneralName(GeneralName.dNSName, n)).toArray(GeneralName[]::new)));
            builder.addExtension(Extension.subjectKeyIdentifier, false, extensions.createSubjectKeyIdentifier(keys.getPublic()));
            builder.addExtension(Extension.authorityKeyIdentifier, false, extensions.createAuthorityKeyIdentifier(ca.certificate()));
            return new Serving(sign(builder, ca.key()), keys.getPrivate());
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("tls: cannot issue a serving certificate for " + dnsNames + ": " + e.getMessage(), e);
        }
    }

    /** The DNS names a certificate is for (its subjectAltName dNSName entries); none when it names none or they cannot be read. */
    public static List<String> dnsNames(X509Certificate certificate) {
        try {
            java.util.Collection<List<?>> names = certificate.getSubjectAlternativeNames();
            return names == null ? List.of() : names.stream().filter(n -> Integer.valueOf(GeneralName.dNSName).equals(n.get(0)))
                    .map(n -> (String) n.get(1)).toList();
        } catch (java.security.cert.CertificateParsingException e) {
            return List.of();
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(builder.build(new JcaContentSignerBuilder(EcKeys.SIGNATURE_ALGORITHM).build(key)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }
}
