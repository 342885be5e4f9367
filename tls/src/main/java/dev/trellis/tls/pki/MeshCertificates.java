package dev.trellis.tls.pki;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;

/** Reads the mesh identity out of a leaf certificate. */
public final class MeshCertificates {

    private static final int SAN_URI = 6;

    /** RFC 5280's upper bound for a commonName. */
    static final int MAX_COMMON_NAME = 64;

    private MeshCertificates() {}

    /**
     * The subject of a leaf or CSR for {@code identity}: {@code CN=<dns name>} when that name
     * fits a commonName (64 characters), else empty. The identity always lives in the
     * subjectAltName, which is marked critical on leaves for exactly this case.
     */
    static X500Name subjectFor(WorkloadIdentity identity) {
        String dnsName = identity.dnsName();
        return dnsName.length() <= MAX_COMMON_NAME ? new X500Name("CN=" + dnsName) : new X500Name(new RDN[0]);
    }

    /**
     * The identity named by the leaf's one SPIFFE URI SAN.
     *
     * @throws CertificateException when there is no URI SAN, more than one, or it is not a mesh identity
     */
    public static WorkloadIdentity identityOf(X509Certificate leaf) throws CertificateException {
        Collection<List<?>> names;
        try {
            names = leaf.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            throw new CertificateException("tls: unreadable subjectAltName: " + e.getMessage(), e);
        }
        if (names == null) {
            throw new CertificateException("tls: certificate " + leaf.getSubjectX500Principal().getName() + " has no subjectAltName");
        }
        List<String> uris = names.stream().filter(n -> ((Integer) n.get(0)) == SAN_URI).map(n -> (String) n.get(1)).toList();
        if (uris.size() != 1) {
            throw new CertificateException("tls: certificate " + leaf.getSubjectX500Principal().getName() + " has " + uris.size() + " URI SANs; a mesh leaf has exactly one");
        }
        try {
            return WorkloadIdentity.parseSpiffeId(uris.getFirst());
        } catch (IllegalArgumentException e) {
            throw new CertificateException(e.getMessage(), e);
        }
    }
}
