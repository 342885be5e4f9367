package dev.trellis.tls.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemTest {

    @TempDir
    Path dir;

    private final CaCredentials anchor = CaCertificates.newTrustAnchor("cluster.local", Duration.ofDays(1), Instant.now());

    @Test
    void roundTripsCertificatesAndKeysWithOwnerOnlyKeyFiles() throws Exception {
        Path cert = dir.resolve("a.pem");
        Path key = dir.resolve("a-key.pem");
        Pem.writePublic(cert, Pem.encodeCertificates(List.of(anchor.certificate())), false);
        Pem.writeSecret(key, Pem.encodePrivateKey(anchor.key()), false);
        assertThat(Pem.readCertificates(cert)).containsExactly(anchor.certificate());
        PrivateKey read = Pem.readPrivateKey(key);
        assertThat(EcKeys.matches(read, anchor.certificate().getPublicKey())).isTrue();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
        assertThat(Pem.readPublicKey(key)).isEqualTo(anchor.certificate().getPublicKey());
    }

    @Test
    void refusesToOverwriteUnlessAsked() throws Exception {
        Path key = dir.resolve("k.pem");
        Pem.writeSecret(key, "x", false);
        assertThatThrownBy(() -> Pem.writeSecret(key, "y", false)).isInstanceOf(FileAlreadyExistsException.class)
                .hasMessageContaining("refusing to overwrite");
        Pem.writeSecret(key, "y", true);
        assertThat(Files.readString(key)).isEqualTo("y");
    }

    @Test
    void errorsNameTheFileAndTheProblem() throws Exception {
        Path empty = dir.resolve("empty.pem");
        Files.writeString(empty, "hello\n");
        assertThatThrownBy(() -> Pem.readCertificates(empty)).hasMessage(empty + ": no PEM CERTIFICATE block");

        Path keyAsCert = dir.resolve("key.pem");
        Files.writeString(keyAsCert, Pem.encodePrivateKey(anchor.key()));
        assertThatThrownBy(() -> Pem.readCertificates(keyAsCert)).hasMessageStartingWith(keyAsCert + ": expected only CERTIFICATE blocks");

        Path huge = dir.resolve("huge.pem");
        Files.write(huge, new byte[Pem.MAX_FILE_BYTES + 1]);
        assertThatThrownBy(() -> Pem.readCertificates(huge)).hasMessageContaining("larger than the 1048576-byte limit");

        Path many = dir.resolve("many.pem");
        Files.writeString(many, Pem.encodeCertificates(Collections.nCopies(Pem.MAX_CERTIFICATES + 1, anchor.certificate())));
        assertThatThrownBy(() -> Pem.readCertificates(many)).hasMessage(many + ": more than 16 certificates");

        Path broken = dir.resolve("broken.pem");
        Files.writeString(broken, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> Pem.readCertificates(broken)).hasMessageStartingWith(broken + ": malformed PEM");
    }

    @Test
    void readsCertificatesAmongOtherTextAndRefusesABlockWithoutItsEnd() throws Exception {
        String one = Pem.encodeCertificates(java.util.List.of(anchor.certificate()));
        String text = "subject: the anchor\r\n" + one.replace("\n", "\r\n") + "\ntrailing words\n" + one;
        assertThat(Pem.parseCertificates(text, "bundle")).containsExactly(anchor.certificate(), anchor.certificate());
        String unended = one.substring(0, one.indexOf("-----END"));
        assertThatThrownBy(() -> Pem.parseCertificates(unended, "cut")).hasMessage("cut: malformed PEM: a CERTIFICATE block without its END line");
        String nested = one.replace("-----END CERTIFICATE-----", "-----BEGIN CERTIFICATE-----");
        assertThatThrownBy(() -> Pem.parseCertificates(nested, "nested")).hasMessageStartingWith("nested: malformed PEM: '-----BEGIN CERTIFICATE-----' inside");
    }
}
