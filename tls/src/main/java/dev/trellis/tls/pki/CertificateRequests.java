package dev.trellis.tls.pki;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.Signature;

/**
 * Builds the CSR a workload sends to the identity service, in DER written here rather than by
 * Bouncy Castle: the sidecar makes one at every renewal, and the library's ASN.1 and operator
 * classes were a sixth of what it loaded for nothing else (docs/benchmarks.md). The issuing side
 * parses and checks CSRs with Bouncy Castle ({@link CsrValidator}); a test compares the two.
 */
public final class CertificateRequests {

    private static final String EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
    private static final String SUBJECT_ALT_NAME = "2.5.29.17";
    private static final String COMMON_NAME = "2.5.4.3";
    private static final String ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

    private CertificateRequests() {}

    /**
     * A DER PKCS#10 request for {@code identity}, signed with {@code keys}: subject
     * {@code CN=<dns name>} (empty when the name is over 64 characters, as
     * {@link MeshCertificates#subjectFor} has it), and one requested extension, the
     * subjectAltName with the SPIFFE URI and the DNS-like name. Nothing else, so that strict
     * validation accepts it.
     */
    public static byte[] create(KeyPair keys, WorkloadIdentity identity) {
        String dnsName = identity.dnsName();
        byte[] subject = dnsName.length() <= MeshCertificates.MAX_COMMON_NAME
                ? Der.sequence(Der.set(Der.sequence(Der.oid(COMMON_NAME), Der.utf8String(dnsName))))
                : Der.sequence();
        byte[] subjectAltName = Der.sequence(Der.implicitIa5(6, identity.spiffeId()), Der.implicitIa5(2, dnsName));
        byte[] extensions = Der.sequence(Der.sequence(Der.oid(SUBJECT_ALT_NAME), Der.octetString(subjectAltName)));
        byte[] info = Der.sequence(
                Der.integer(0),
                subject,
                keys.getPublic().getEncoded(),   // SubjectPublicKeyInfo, as the JDK encodes it
                Der.implicitConstructed(0, Der.sequence(Der.oid(EXTENSION_REQUEST), Der.set(extensions))));
        try {
            Signature signer = Signature.getInstance(EcKeys.SIGNATURE_ALGORITHM);
            signer.initSign(keys.getPrivate());
            signer.update(info);
            return Der.sequence(info, Der.sequence(Der.oid(ECDSA_WITH_SHA256)), Der.bitString(signer.sign()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("tls: cannot sign CSR: " + e.getMessage(), e);
        }
    }
}
