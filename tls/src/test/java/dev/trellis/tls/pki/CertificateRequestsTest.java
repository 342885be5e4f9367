package dev.trellis.tls.pki;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.KeyPair;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.Test;

/**
 * The CSR the sidecar writes by hand is, byte for byte, the request Bouncy Castle builds for the
 * same key and identity (the signature aside: ECDSA's is randomised), its signature verifies,
 * and the identity service's validator takes it.
 */
class CertificateRequestsTest {

    private static byte[] byBouncyCastle(KeyPair keys, WorkloadIdentity identity) throws Exception {
        ExtensionsGenerator extensions = new ExtensionsGenerator();
        extensions.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.uniformResourceIdentifier, identity.spiffeId()),
                new GeneralName(GeneralName.dNSName, identity.dnsName())}));
        return new JcaPKCS10CertificationRequestBuilder(MeshCertificates.subjectFor(identity), keys.getPublic())
                .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate())
                .build(new JcaContentSignerBuilder(EcKeys.SIGNATURE_ALGORITHM).build(keys.getPrivate()))
                .getEncoded();
    }

    @Test
    void isTheRequestBouncyCastleBuildsAndItsSignatureVerifies() throws Exception {
        String longNamespace = "n".repeat(63);
        for (WorkloadIdentity identity : new WorkloadIdentity[] {
            new WorkloadIdentity("cluster.local", "emojivoto", "web"),
            new WorkloadIdentity("cluster.local", longNamespace, "a-service-account-with-a-long-name")}) {
            KeyPair keys = EcKeys.generateP256();
            PKCS10CertificationRequest ours = new PKCS10CertificationRequest(CertificateRequests.create(keys, identity));
            PKCS10CertificationRequest theirs = new PKCS10CertificationRequest(byBouncyCastle(keys, identity));
            assertThat(ours.toASN1Structure().getCertificationRequestInfo().getEncoded())
                    .as("%s", identity).isEqualTo(theirs.toASN1Structure().getCertificationRequestInfo().getEncoded());
            assertThat(ours.getSignatureAlgorithm()).isEqualTo(theirs.getSignatureAlgorithm());
            assertThat(ours.isSignatureValid(new JcaContentVerifierProviderBuilder().build(keys.getPublic()))).isTrue();
            assertThat(new CsrValidator().validate(CertificateRequests.create(keys, identity), identity).identity()).isEqualTo(identity);
        }
    }
}
