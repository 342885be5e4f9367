package dev.trellis.tls.pki;

import dev.trellis.core.text.UntrustedText;
import dev.trellis.core.identity.WorkloadIdentity;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.AttributeTypeAndValue;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * Strict validation of a workload's CSR before anything is signed.
 *
 * <p>Accepted is only: a DER PKCS#10 request of at most {@value #MAX_CSR_BYTES} bytes,
 * signed with ECDSA-SHA256 by the P-256 key it carries, whose subject is empty or exactly
 * {@code CN=<dns name of the identity>}, and whose only attribute is an extension request
 * holding only a subjectAltName with the identity's SPIFFE URI and, optionally, its DNS-like
 * name. Any other SAN (IP, e-mail, another URI or DNS name), any other extension
 * (basicConstraints, keyUsage, …) or attribute is refused, so a caller cannot ask for a CA
 * certificate or an identity that is not its own. The issued leaf takes nothing from the
 * CSR but the public key: its extensions are the issuer's own choice.
 *
 * <p>Stateless and thread-safe.
 */
public final class CsrValidator {

    /** Largest CSR accepted; a P-256 request is about 400 bytes. */
    public static final int MAX_CSR_BYTES = 4096;

    private static final ASN1ObjectIdentifier ECDSA_SHA256 = X9ObjectIdentifiers.ecdsa_with_SHA256;

    /**
     * Validates {@code der} as a request for {@code identity}.
     *
     * @throws CsrRejectedException with a reason that names what was wrong
     */
    public ValidatedCsr validate(byte[] der, WorkloadIdentity identity) throws CsrRejectedException {
        if (der == null || der.length == 0) {
            throw new CsrRejectedException("csr: empty");
        }
        if (der.length > MAX_CSR_BYTES) {
            throw new CsrRejectedException("csr: " + der.length + " bytes is over the " + MAX_CSR_BYTES + "-byte limit");
        }
        JcaPKCS10CertificationRequest csr;
        try {
            csr = new JcaPKCS10CertificationRequest(new PKCS10CertificationRequest(der));
        } catch (IOException | RuntimeException e) {
            throw new CsrRejectedException("csr: not a DER PKCS#10 request: " + e.getMessage(), e);
        }

        if (!EcKeys.isP256(csr.getSubjectPublicKeyInfo())) {
            throw new CsrRejectedException("csr: key must be ECDSA P-256, got "
                    + describeKey(csr.getSubjectPublicKeyInfo().getAlgorithm().getAlgorithm(), csr.getSubjectPublicKeyInfo().getAlgorithm().getParameters()));
        }
        if (!ECDSA_SHA256.equals(csr.getSignatureAlgorithm().getAlgorithm())) {
            throw new CsrRejectedException("csr: signature algorithm must be ecdsa-with-SHA256, got " + csr.getSignatureAlgorithm().getAlgorithm());
        }
        PublicKey publicKey;
        try {
            publicKey = csr.getPublicKey();
            // Verified with JCA directly: BouncyCastle's content verifier runs the signature
            // check a second time (a PKCS#11 clean-up), which doubles the CA's cost per CSR.
            Signature verifier = Signature.getInstance(EcKeys.SIGNATURE_ALGORITHM);
            verifier.initVerify(publicKey);
            verifier.update(csr.toASN1Structure().getCertificationRequestInfo().getEncoded(ASN1Encoding.DER));
            if (!verifier.verify(csr.getSignature())) {
                throw new CsrRejectedException("csr: signature does not verify with the request's own key");
            }
        } catch (GeneralSecurityException | IOException | RuntimeException e) {
            throw new CsrRejectedException("csr: signature does not verify: " + e.getMessage(), e);
        }

        checkSubject(csr.getSubject(), identity);
        checkAttributes(csr, identity);
        return new ValidatedCsr(identity, publicKey);
    }

    private static void checkSubject(X500Name subject, WorkloadIdentity identity) throws CsrRejectedException {
        RDN[] rdns = subject.getRDNs();
        if (rdns.length == 0) {
            return;
        }
        if (rdns.length != 1 || rdns[0].isMultiValued()) {
            throw new CsrRejectedException("csr: subject must be empty or CN=" + identity.dnsName() + ", got " + described(subject));
        }
        AttributeTypeAndValue atv = rdns[0].getFirst();
        if (!BCStyle.CN.equals(atv.getType()) || !text(() -> IETFUtils.valueToString(atv.getValue())).equals(Optional.of(identity.dnsName()))) {
            throw new CsrRejectedException("csr: subject must be empty or CN=" + identity.dnsName() + ", got " + described(subject));
        }
    }

    private static void checkAttributes(JcaPKCS10CertificationRequest csr, WorkloadIdentity identity) throws CsrRejectedException {
        var attributes = csr.getAttributes();
        if (attributes.length == 0) {
            throw new CsrRejectedException("csr: no extension request; the subjectAltName " + identity.spiffeId() + " is required");
        }
        if (attributes.length > 1) {
            throw new CsrRejectedException("csr: " + attributes.length + " attributes; only one extension request is allowed");
        }
        var attribute = attributes[0];
        if (!PKCSObjectIdentifiers.pkcs_9_at_extensionRequest.equals(attribute.getAttrType())) {
            throw new CsrRejectedException("csr: attribute " + attribute.getAttrType() + " is not allowed; only an extension request is");
        }
        ASN1Encodable[] values = attribute.getAttrValues().toArray();
        if (values.length != 1) {
            throw new CsrRejectedException("csr: the extension request must hold one value, got " + values.length);
        }
        Extensions extensions;
        try {
            extensions = Extensions.getInstance(values[0]);
        } catch (RuntimeException e) {
            throw new CsrRejectedException("csr: malformed extension request: " + e.getMessage(), e);
        }
        ASN1ObjectIdentifier[] oids = extensions.getExtensionOIDs();
        for (ASN1ObjectIdentifier oid : oids) {
            if (!Extension.subjectAlternativeName.equals(oid)) {
                throw new CsrRejectedException("csr: extension " + extensionName(oid) + " is not allowed; only subjectAltName may be requested");
            }
        }
        Extension san = extensions.getExtension(Extension.subjectAlternativeName);
        if (san == null) {
            throw new CsrRejectedException("csr: no subjectAltName; " + identity.spiffeId() + " is required");
        }
        GeneralNames names;
        try {
            names = GeneralNames.getInstance(san.getParsedValue());
        } catch (RuntimeException e) {
            throw new CsrRejectedException("csr: malformed subjectAltName: " + e.getMessage(), e);
        }
        boolean uriSeen = false;
        boolean dnsSeen = false;
        List<String> unexpected = new ArrayList<>();
        for (GeneralName name : names.getNames()) {
            Optional<String> value = text(() -> name.getName().toString());
            if (name.getTagNo() == GeneralName.uniformResourceIdentifier && value.equals(Optional.of(identity.spiffeId())) && !uriSeen) {
                uriSeen = true;
            } else if (name.getTagNo() == GeneralName.dNSName && value.equals(Optional.of(identity.dnsName())) && !dnsSeen) {
                dnsSeen = true;
            } else {
                unexpected.add(sanKind(name.getTagNo()) + ":" + described(name.getName()));
            }
        }
        if (!unexpected.isEmpty()) {
            throw new CsrRejectedException("csr: subjectAltName has names other than " + identity.spiffeId() + ": " + String.join(", ", unexpected));
        }
        if (!uriSeen) {
            throw new CsrRejectedException("csr: subjectAltName lacks the URI " + identity.spiffeId());
        }
    }

    private static String describeKey(ASN1ObjectIdentifier algorithm, ASN1Encodable parameters) {
        if (X9ObjectIdentifiers.id_ecPublicKey.equals(algorithm)) {
            return "EC on curve " + described(parameters);
        }
        if (PKCSObjectIdentifiers.rsaEncryption.equals(algorithm)) {
            return "RSA";
        }
        return algorithm.getId();
    }

    private static String extensionName(ASN1ObjectIdentifier oid) {
        if (Extension.basicConstraints.equals(oid)) {
            return "basicConstraints";
        }
        if (Extension.keyUsage.equals(oid)) {
            return "keyUsage";
        }
        if (Extension.extendedKeyUsage.equals(oid)) {
            return "extendedKeyUsage";
        }
        if (Extension.nameConstraints.equals(oid)) {
            return "nameConstraints";
        }
        return oid.getId();
    }

    private static String sanKind(int tag) {
        return switch (tag) {
            case GeneralName.otherName -> "otherName";
            case GeneralName.rfc822Name -> "email";
            case GeneralName.dNSName -> "DNS";
            case GeneralName.x400Address -> "x400";
            case GeneralName.directoryName -> "dirName";
            case GeneralName.ediPartyName -> "ediPartyName";
            case GeneralName.uniformResourceIdentifier -> "URI";
            case GeneralName.iPAddress -> "IP";
            case GeneralName.registeredID -> "registeredID";
            default -> "tag" + tag;
        };
    }

    private static String printable(String value) {
        return UntrustedText.printable(value, 100);
    }

    /**
     * An ASN.1 value from the request whose text BouncyCastle can decode; empty for one it
     * cannot (a UTF8String holding invalid UTF-8 throws from {@code toString}, found by
     * {@code CsrValidatorFuzzTest}), which then matches nothing.
     */
    private static Optional<String> text(Supplier<String> decode) {
        try {
            return Optional.of(decode.get());
        } catch (RuntimeException undecodable) {
            return Optional.empty();
        }
    }

    /** An ASN.1 value from the request as text fit for a refusal, whatever it holds. */
    private static String described(Object value) {
        return text(() -> String.valueOf(value)).map(CsrValidator::printable).orElse("<not decodable text>");
    }
}
