package dev.trellis.install;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A webhook PKI kept across installs is read back as it was, and one that would break admission is refused, naming why. */
class WebhookFilesTest {

    @TempDir
    Path dir;

    @Test
    void aKeptWebhookPkiIsReadBackAndABrokenOneRefused() throws Exception {
        Instant now = Instant.now();
        InstallOptions.WebhookTls made = InstallOptions.WebhookTls.generate("trellis", "cluster.local", now);
        Path ca = write("ca.crt", made.caPem());
        Path cert = write("tls.crt", made.certificatePem());
        Path key = write("tls.key", made.keyPem());
        InstallOptions.WebhookTls read = WebhookFiles.read(ca, cert, key, "trellis", now);
        assertThat(read.caPem()).isEqualTo(made.caPem());
        assertThat(read.certificatePem()).isEqualTo(made.certificatePem());

        assertThatThrownBy(() -> WebhookFiles.read(ca, cert, key, "mesh", now))
                .hasMessageContaining("not trellis-injector.mesh.svc");
        InstallOptions.WebhookTls other = InstallOptions.WebhookTls.generate("trellis", "cluster.local", now);
        assertThatThrownBy(() -> WebhookFiles.read(write("other-ca.crt", other.caPem()), cert, key, "trellis", now))
                .hasMessageContaining("does not chain to the CA");
        assertThatThrownBy(() -> WebhookFiles.read(ca, cert, write("other.key", other.keyPem()), "trellis", now))
                .hasMessageContaining("not the key of the certificate");
        assertThatThrownBy(() -> WebhookFiles.read(ca, cert, key, "trellis", now.plus(InstallOptions.WebhookTls.LIFETIME).plusSeconds(86_400)))
                .hasMessageContaining("does not chain to the CA");
    }

    private Path write(String name, String text) throws Exception {
        return Files.writeString(dir.resolve(name), text);
    }
}
