package dev.trellis.install;

import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.ServingCertificates;
import dev.trellis.tls.pki.TrustAnchors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/**
 * The injector webhook's PKI from files (yours, or cert-manager's, kept across installs so
 * that re-installing does not rotate it), refused when it would break admission: the
 * certificate must chain to the CA, name {@code trellis-injector.<namespace>.svc}, be valid
 * now, and the key must be its own. EC (P-256) keys, as Trellis makes them.
 */
public final class WebhookFiles {

    private WebhookFiles() {
    }

    /** @throws IOException naming the file and what is wrong with it */
    public static InstallOptions.WebhookTls read(Path caFile, Path certificateFile, Path keyFile, String namespace, Instant now) throws IOException {
        TrustAnchors ca = TrustAnchors.read(caFile);
        List<X509Certificate> chain = Pem.readCertificates(certificateFile);
        try {
            ca.verify(chain, now);
        } catch (CertificateException e) {
            throw new IOException(certificateFile + ": does not chain to the CA in " + caFile + " at " + now + ": " + e.getMessage(), e);
        }
        String service = InstallOptions.WebhookTls.serviceName(namespace);
        List<String> names = ServingCertificates.dnsNames(chain.getFirst());
        if (!names.contains(service)) {
            throw new IOException(certificateFile + ": names " + names + ", not " + service + ", which the API server calls");
        }
        PrivateKey key = Pem.readPrivateKey(keyFile);
        if (!EcKeys.matches(key, chain.getFirst().getPublicKey())) {
            throw new IOException(keyFile + ": not the key of the certificate in " + certificateFile);
        }
        return new InstallOptions.WebhookTls(Pem.encodeCertificates(ca.certificates()), Pem.encodeCertificates(chain), Files.readString(keyFile));
    }
}
