package dev.trellis.tls.pki;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
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
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Signs mesh leaves with one issuer. A leaf carries the identity's SPIFFE URI and DNS-like
 * name, is valid from {@link #CLOCK_SKEW} before now for the requested lifetime, and never
 * outlives its issuer. Immutable and thread-safe; a new issuer means a new {@code LeafIssuer}.
 */
public final class LeafIssuer {

    /** Default leaf lifetime. */
    public static final Duration DEFAULT_LEAF_LIFETIME = Duration.ofHours(24);
    /** How far back notBefore is set, so peers with slow clocks accept a fresh leaf. */
    public static final Duration CLOCK_SKEW = Duration.ofSeconds(20);

    private final CaCredentials issuer;
    private final X500Name issuerName;

    public LeafIssuer(CaCredentials issuer) {
        this.issuer = requireNonNull(issuer, "issuer");
        this.issuerName = X500Name.getInstance(issuer.certificate().getSubjectX500Principal().getEncoded());
    }

    public CaCredentials issuer() {
        return issuer;
    }

    /** The issuer's own notAfter: no leaf is valid past it. */
    public Instant notAfter() {
        return issuer.certificate().getNotAfter().toInstant();
    }

    /**
     * Signs a leaf for the validated request.
     *
     * @throws IssuerExpiredException when the issuer is not valid at {@code now}
     */
    public IssuedLeaf issue(ValidatedCsr csr, Duration lifetime, Instant now) throws IssuerExpiredException {
        requireNonNull(csr, "csr");
        if (!now.isBefore(notAfter())) {
            throw new IssuerExpiredException("issuer " + issuer.certificate().getSubjectX500Principal().getName() + " expired at " + notAfter());
        }
        if (now.isBefore(issuer.certificate().getNotBefore().toInstant())) {
            throw new IssuerExpiredException("issuer " + issuer.certificate().getSubjectX500Principal().getName()
                    + " is not valid before " + issuer.certificate().getNotBefore().toInstant());
        }
        Instant notAfter = now.plus(lifetime);
        if (notAfter.isAfter(notAfter())) {
            notAfter = notAfter();
        }
        WorkloadIdentity identity = csr.identity();
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    issuerName, CaCertificates.newSerial(), Date.from(now.minus(CLOCK_SKEW)), Date.from(notAfter),
                    MeshCertificates.subjectFor(identity), csr.publicKey());
            JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            builder.addExtension(Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            builder.addExtension(Extension.subjectAlternativeName, true, new GeneralNames(new GeneralName[] {
                    new GeneralName(GeneralName.uniformResourceIdentifier, identity.spiffeId()),
                    new GeneralName(GeneralName.dNSName, identity.dnsName())}));
            builder.addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(csr.publicKey()));
            builder.addExtension(Extension.authorityKeyIdentifier, false, utils.createAuthorityKeyIdentifier(issuer.certificate()));
            ContentSigner signer = new JcaContentSignerBuilder(EcKeys.SIGNATURE_ALGORITHM).build(issuer.key());
            X509Certificate leaf = new JcaX509CertificateConverter().getCertificate(builder.build(signer));
            return new IssuedLeaf(leaf, issuer.chain());
        } catch (GeneralSecurityException | OperatorCreationException | CertIOException e) {
            throw new IllegalStateException("tls: cannot sign leaf for " + identity + ": " + e.getMessage(), e);
        }
    }

    /** The issuer cannot sign now: it expired or is not yet valid. */
    public static final class IssuerExpiredException extends Exception {
        private static final long serialVersionUID = 1L;

        IssuerExpiredException(String message) {
            super(message);
        }
    }
}
