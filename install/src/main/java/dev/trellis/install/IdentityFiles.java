package dev.trellis.install;

import dev.trellis.install.InstallOptions.IdentityMaterial;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.TrustAnchors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.time.Instant;
import java.util.Optional;

/**
 * Reads the mesh PKI that {@code trellis install} puts into the cluster, and refuses one that
 * would install a broken mesh: anchors that are not CA certificates, an issuer that does not
 * chain to them, is not valid now, or whose key is not its own. What is not yet expired but
 * soon will be is {@code trellis check}'s to warn about.
 */
public final class IdentityFiles {

    private IdentityFiles() {
    }

    /**
     * The anchors in {@code anchorsFile} and, unless {@code issuer} is empty (an external issuer
     * writes the Secret), the issuer certificate (first, then any chain above it) and key.
     *
     * @throws IOException naming the file and what is wrong with it
     */
    public static IdentityMaterial read(Path anchorsFile, Optional<IssuerFiles> issuer, Instant now) throws IOException {
        TrustAnchors anchors;
        try {
            anchors = TrustAnchors.read(anchorsFile);
        } catch (IllegalArgumentException e) {
            throw new IOException(anchorsFile + ": " + e.getMessage(), e);
        }
        String anchorsPem = Pem.encodeCertificates(anchors.certificates());
        if (issuer.isEmpty()) {
            return new IdentityMaterial(anchorsPem, Optional.empty());
        }
        Path certificateFile = issuer.get().certificate();
        Path keyFile = issuer.get().key();
        CaCredentials credentials = CaCredentials.read(certificateFile, keyFile);
        try {
            anchors.verify(credentials.chain(), now);
        } catch (CertificateException e) {
            throw new IOException(certificateFile + ": the issuer does not chain to the trust anchors in " + anchorsFile + " at " + now + ": " + e.getMessage(), e);
        }
        return new IdentityMaterial(anchorsPem, Optional.of(new IdentityMaterial.Issuer(
                Pem.encodeCertificates(credentials.chain()), Files.readString(keyFile))));
    }

    /** The issuer's certificate file (issuer first, then any chain above it) and key file. */
    public record IssuerFiles(Path certificate, Path key) {}
}
