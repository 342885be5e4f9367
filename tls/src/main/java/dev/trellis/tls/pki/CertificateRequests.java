package dev.trellis.tls.pki;

import dev.trellis.core.identity.WorkloadIdentity;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.KeyPair;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** Builds the CSR a workload sends to the identity service. */
public final class CertificateRequests {

    private CertificateRequests() {}

    /**
     * A DER PKCS#10 request for {@code identity}, signed with {@code keys}: subject
     * {@code CN=<dns name>}, and one requested extension, the subjectAltName with the SPIFFE
     * URI and the DNS-like name. Nothing else, so that strict validation accepts it.
     */
    public static byte[] create(KeyPair keys, WorkloadIdentity identity) {
        try {
            ExtensionsGenerator extensions = new ExtensionsGenerator();
            extensions.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                    new GeneralName(GeneralName.uniformResourceIdentifier, identity.spiffeId()),
                    new GeneralName(GeneralName.dNSName, identity.dnsName())}));
            return new JcaPKCS10CertificationRequestBuilder(MeshCertificates.subjectFor(identity), keys.getPublic())
                    .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate())
                    .build(new JcaContentSignerBuilder(EcKeys.SIGNATURE_ALGORITHM).build(keys.getPrivate()))
                    .getEncoded();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (OperatorCreationException e) {
            throw new IllegalStateException("tls: cannot sign CSR: " + e.getMessage(), e);
        }
    }
}
