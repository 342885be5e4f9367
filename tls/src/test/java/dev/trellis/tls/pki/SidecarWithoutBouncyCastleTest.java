package dev.trellis.tls.pki;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the sidecar uses of this module links and runs with no Bouncy Castle to load: the
 * proxy's start (its trust anchors, its key, its CSR, its certificate check) must not pay for
 * the CA's ASN.1 library, which the JVM would otherwise load merely to verify these classes.
 */
class SidecarWithoutBouncyCastleTest {

    /** The tls classes the proxy loads as it starts and takes its certificate. */
    private static final List<String> SIDECAR = List.of("dev.trellis.tls.pki.EcKeys", "dev.trellis.tls.pki.Pem", "dev.trellis.tls.pki.TrustAnchors",
            "dev.trellis.tls.pki.CertificateRequests", "dev.trellis.tls.pki.Der", "dev.trellis.tls.pki.MeshCertificates",
            "dev.trellis.tls.context.Credentials", "dev.trellis.tls.context.CredentialsStore", "dev.trellis.tls.client.IdentityClient");

    @Test
    void theSidecarsClassesLinkAndRunWithoutBouncyCastle() throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")).split(File.pathSeparator)) {
            if (!entry.isEmpty() && !Path.of(entry).getFileName().toString().startsWith("bc")) {
                urls.add(Path.of(entry).toUri().toURL());
            }
        }
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            assertThat(loader.getResource("org/bouncycastle/asn1/ASN1ObjectIdentifier.class")).as("Bouncy Castle is out of reach").isNull();
            for (String name : SIDECAR) {
                // Initialized, so linked and verified: a verifier that needs a Bouncy Castle type fails here.
                Class.forName(name, true, loader);
            }
            Class<?> keys = Class.forName("dev.trellis.tls.pki.EcKeys", true, loader);
            KeyPair pair = (KeyPair) keys.getMethod("generateP256").invoke(null);
            assertThat((boolean) keys.getMethod("isP256", PublicKey.class).invoke(null, pair.getPublic())).isTrue();
            assertThat((boolean) keys.getMethod("matches", PrivateKey.class, PublicKey.class).invoke(null, pair.getPrivate(), pair.getPublic())).isTrue();
        }
    }
}
