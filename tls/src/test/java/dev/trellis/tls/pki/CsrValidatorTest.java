package dev.trellis.tls.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.DERTaggedObject;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;

class CsrValidatorTest {

    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");

    private final CsrValidator validator = new CsrValidator();

    @Test
    void acceptsTheRequestTheClientBuilds() throws Exception {
        KeyPair keys = EcKeys.generateP256();
        ValidatedCsr csr = validator.validate(CertificateRequests.create(keys, WEB), WEB);
        assertThat(csr.identity()).isEqualTo(WEB);
        assertThat(csr.publicKey()).isEqualTo(keys.getPublic());
    }

    @Test
    void acceptsAnEmptySubjectAndOnlyTheUriSan() throws Exception {
        KeyPair keys = EcKeys.generateP256();
        byte[] der = csr(keys, "", "EC", sans(new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId())), null);
        assertThat(validator.validate(der, WEB).identity()).isEqualTo(WEB);
    }

    @Test
    void refusesCsrWithExtraSan() throws Exception {
        KeyPair keys = EcKeys.generateP256();
        byte[] der = csr(keys, "CN=" + WEB.dnsName(), "EC", sans(
                new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId()),
                new GeneralName(GeneralName.dNSName, "db.prod.svc.cluster.local")), null);
        assertThatThrownBy(() -> validator.validate(der, WEB))
                .isInstanceOf(CsrRejectedException.class)
                .hasMessageContaining("names other than")
                .hasMessageContaining("DNS:db.prod.svc.cluster.local");
    }

    @Test
    void refusesCsrWithIpOrSecondUriSan() throws Exception {
        KeyPair keys = EcKeys.generateP256();
        byte[] withIp = csr(keys, "", "EC", sans(
                new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId()),
                new GeneralName(GeneralName.iPAddress, "10.0.0.1")), null);
        assertThatThrownBy(() -> validator.validate(withIp, WEB)).hasMessageContaining("IP:");
        byte[] twoUris = csr(keys, "", "EC", sans(
                new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId()),
                new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://cluster.local/ns/emojivoto/sa/db")), null);
        assertThatThrownBy(() -> validator.validate(twoUris, WEB)).hasMessageContaining("URI:spiffe://cluster.local/ns/emojivoto/sa/db");
    }

    @Test
    void refusesCsrForAnotherIdentity() {
        KeyPair keys = EcKeys.generateP256();
        WorkloadIdentity db = new WorkloadIdentity("cluster.local", "emojivoto", "db");
        assertThatThrownBy(() -> validator.validate(CertificateRequests.create(keys, db), WEB))
                .hasMessageContaining("csr: subject must be empty or CN=" + WEB.dnsName());
    }

    @Test
    void refusesRsaAndOtherCurves() throws Exception {
        KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
        rsa.initialize(2048);
        byte[] rsaCsr = csr(rsa.generateKeyPair(), "", "RSA", sans(new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId())), null);
        assertThatThrownBy(() -> validator.validate(rsaCsr, WEB)).hasMessage("csr: key must be ECDSA P-256, got RSA");

        KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
        ec.initialize(new ECGenParameterSpec("secp384r1"));
        byte[] p384 = csr(ec.generateKeyPair(), "", "EC", sans(new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId())), null);
        assertThatThrownBy(() -> validator.validate(p384, WEB)).hasMessageStartingWith("csr: key must be ECDSA P-256, got EC on curve 1.3.132.0.34");
    }

    @Test
    void refusesBadSignature() {
        byte[] der = CertificateRequests.create(EcKeys.generateP256(), WEB);
        der[der.length - 5] ^= 0x01; // inside the signature value
        assertThatThrownBy(() -> validator.validate(der, WEB)).hasMessageStartingWith("csr: signature does not verify");
    }

    @Test
    void refusesRequestForCaOrKeyUsageExtensions() throws Exception {
        KeyPair keys = EcKeys.generateP256();
        byte[] der = csr(keys, "", "EC", sans(new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId())),
                new BasicConstraints(true));
        assertThatThrownBy(() -> validator.validate(der, WEB))
                .hasMessage("csr: extension basicConstraints is not allowed; only subjectAltName may be requested");
    }

    @Test
    void refusesGarbageEmptyAndOversized() {
        assertThatThrownBy(() -> validator.validate(new byte[0], WEB)).hasMessage("csr: empty");
        assertThatThrownBy(() -> validator.validate(new byte[] {0x30, 0x03, 0x02, 0x01, 0x01}, WEB)).hasMessageStartingWith("csr: not a DER PKCS#10 request");
        assertThatThrownBy(() -> validator.validate(new byte[CsrValidator.MAX_CSR_BYTES + 1], WEB))
                .hasMessage("csr: 4097 bytes is over the 4096-byte limit");
    }

    @Test
    void refusesCsrWithoutSan() throws Exception {
        KeyPair keys = EcKeys.generateP256();
        byte[] der = new JcaPKCS10CertificationRequestBuilder(new X500Name(""), keys.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())).getEncoded();
        assertThatThrownBy(() -> validator.validate(der, WEB)).hasMessageContaining("no extension request");
    }

    @Test
    void refusesSignedRequestsWhoseNamesAreNotDecodableText() throws Exception {
        KeyPair keys = EcKeys.generateP256();
        // A UTF8String holding bytes that are not UTF-8: BouncyCastle parses it, but throws when asked for its text.
        ASN1Encodable notUtf8 = ASN1Primitive.fromByteArray(new byte[] {0x0c, 0x03, (byte) 0xff, (byte) 0xfe, 0x41});
        X500Name subject = new X500Name(new RDN[] {new RDN(BCStyle.CN, notUtf8)});
        ExtensionsGenerator extensions = new ExtensionsGenerator();
        extensions.addExtension(Extension.subjectAlternativeName, false, sans(new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId())));
        byte[] badSubject = new JcaPKCS10CertificationRequestBuilder(subject, keys.getPublic())
                .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())).getEncoded();
        assertThatThrownBy(() -> validator.validate(badSubject, WEB))
                .isInstanceOf(CsrRejectedException.class)
                .hasMessageContaining("subject must be empty or CN=" + WEB.dnsName())
                .hasMessageContaining("not decodable");

        byte[] badSan = csr(keys, "", "EC", sans(
                new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId()),
                new GeneralName(GeneralName.otherName, new DERSequence(new ASN1Encodable[] {PKCSObjectIdentifiers.pkcs_9_at_emailAddress, new DERTaggedObject(true, 0, notUtf8)}))), null);
        assertThatThrownBy(() -> validator.validate(badSan, WEB))
                .isInstanceOf(CsrRejectedException.class)
                .hasMessageContaining("names other than");
    }

    private static GeneralNames sans(GeneralName... names) {
        return new GeneralNames(names);
    }

    private static byte[] csr(KeyPair keys, String subject, String keyType, GeneralNames sans, BasicConstraints constraints) throws Exception {
        ExtensionsGenerator extensions = new ExtensionsGenerator();
        extensions.addExtension(Extension.subjectAlternativeName, false, sans);
        if (constraints != null) {
            extensions.addExtension(Extension.basicConstraints, true, constraints);
        }
        String algorithm = keyType.equals("RSA") ? "SHA256withRSA" : (keys.getPublic().getEncoded().length > 100 ? "SHA384withECDSA" : "SHA256withECDSA");
        return new JcaPKCS10CertificationRequestBuilder(new X500Name(subject), keys.getPublic())
                .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate())
                .build(new JcaContentSignerBuilder(algorithm).build(keys.getPrivate()))
                .getEncoded();
    }
}
