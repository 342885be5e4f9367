package dev.trellis.tls.pki;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;

/** Reads the mesh identity out of a leaf certificate. */
public final class MeshCertificates {

    private static final int SAN_URI = 6;

    private MeshCertificates() {}

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
