package dev.trellis.tls.pki;

import static java.util.Objects.requireNonNull;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/**
 * Reads and writes the PEM files of the mesh PKI, with limits: a PEM file is at most
 * {@value #MAX_FILE_BYTES} bytes and holds at most {@value #MAX_CERTIFICATES} certificates.
 * Errors name the file and what was wrong with it.
 */
public final class Pem {

    /** Largest PEM file read; real ones are a few KiB. */
    public static final int MAX_FILE_BYTES = 1 << 20;
    /** Most certificates read from one file. */
    public static final int MAX_CERTIFICATES = 16;

    private Pem() {}

    /** Reads every certificate of a PEM file, in file order. At least one must be there. */
    public static List<X509Certificate> readCertificates(Path file) throws IOException {
        return parseCertificates(readLimited(file), file.toString());
    }

    /**
     * Parses every certificate of PEM text; {@code source} names the text in errors. Text
     * outside the blocks is ignored, as RFC 7468 allows; any block other than CERTIFICATE, a
     * block without its end line, or base64 that does not decode is refused. Read by hand, not by
     * Bouncy Castle's PEM parser: the sidecar reads its trust anchors at every start.
     */
    public static List<X509Certificate> parseCertificates(String pem, String source) throws IOException {
        List<X509Certificate> certificates = new ArrayList<>();
        String type = null;
        StringBuilder base64 = new StringBuilder();
        for (String line : pem.lines().map(String::strip).toList()) {
            if (type == null) {
                if (line.startsWith("-----BEGIN ") && line.endsWith("-----") && line.length() > 16) {
                    type = line.substring("-----BEGIN ".length(), line.length() - "-----".length());
                    if (!type.equals("CERTIFICATE")) {
                        throw new IOException(source + ": expected only CERTIFICATE blocks, found a " + type + " block");
                    }
                    base64.setLength(0);
                }
            } else if (line.equals("-----END " + type + "-----")) {
                if (certificates.size() == MAX_CERTIFICATES) {
                    throw new IOException(source + ": more than " + MAX_CERTIFICATES + " certificates");
                }
                byte[] der;
                try {
                    der = java.util.Base64.getDecoder().decode(base64.toString());
                } catch (IllegalArgumentException e) {
                    throw new IOException(source + ": malformed PEM: " + e.getMessage(), e);
                }
                certificates.add(fromDer(der, source));
                type = null;
            } else if (line.startsWith("-----")) {
                throw new IOException(source + ": malformed PEM: '" + line + "' inside a " + type + " block");
            } else {
                base64.append(line);
            }
        }
        if (type != null) {
            throw new IOException(source + ": malformed PEM: a " + type + " block without its END line");
        }
        if (certificates.isEmpty()) {
            throw new IOException(source + ": no PEM CERTIFICATE block");
        }
        return List.copyOf(certificates);
    }

    /** Reads the one private key of a PEM file (PKCS#8 {@code PRIVATE KEY} or SEC1 {@code EC PRIVATE KEY}). */
    public static PrivateKey readPrivateKey(Path file) throws IOException {
        return parsePrivateKey(readLimited(file), file.toString());
    }

    /** Parses one private key from PEM text; {@code source} names the text in errors. */
    public static PrivateKey parsePrivateKey(String pem, String source) throws IOException {
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object object = readObject(parser, source);
            if (object == null) {
                throw new IOException(source + ": no PEM private key block");
            }
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            PrivateKey key = switch (object) {
                case PrivateKeyInfo info -> converter.getPrivateKey(info);
                case PEMKeyPair pair -> converter.getPrivateKey(pair.getPrivateKeyInfo());
                default -> throw new IOException(source + ": expected a PRIVATE KEY block, found " + object.getClass().getSimpleName());
            };
            if (readObject(parser, source) != null) {
                throw new IOException(source + ": more than one PEM block; a key file holds one key");
            }
            return key;
        }
    }

    /** Reads one public key ({@code PUBLIC KEY}) or derives it from the file's private key. */
    public static PublicKey readPublicKey(Path file) throws IOException {
        String pem = readLimited(file);
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object object = readObject(parser, file.toString());
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            return switch (object) {
                case SubjectPublicKeyInfo info -> converter.getPublicKey(info);
                case PEMKeyPair pair -> pair.getPublicKeyInfo() != null
                        ? converter.getPublicKey(pair.getPublicKeyInfo())
                        : EcKeys.publicKeyOf(converter.getPrivateKey(pair.getPrivateKeyInfo()));
                case PrivateKeyInfo info -> EcKeys.publicKeyOf(converter.getPrivateKey(info));
                case null -> throw new IOException(file + ": no PEM key block");
                default -> throw new IOException(file + ": expected a PUBLIC KEY or PRIVATE KEY block, found " + object.getClass().getSimpleName());
            };
        }
    }

    /** PEM text of the certificates, in order. */
    public static String encodeCertificates(List<X509Certificate> certificates) {
        return encode(certificates.toArray());
    }

    /** PEM text of a private key, PKCS#8. */
    public static String encodePrivateKey(PrivateKey key) {
        // PemGenerationException is an IOException: caught as that, so that verifying this class (the sidecar
        // reads its trust anchors with it) does not load Bouncy Castle.
        try {
            return encode(new JcaPKCS8Generator(key, null));
        } catch (IOException e) {
            throw new IllegalArgumentException("tls: cannot encode private key: " + e.getMessage(), e);
        }
    }

    /** PEM text of a public key. */
    public static String encodePublicKey(PublicKey key) {
        return encode(key);
    }

    /**
     * Writes a file readable by its owner only (mode 0600), atomically: the content appears
     * whole or not at all. With {@code overwrite} false an existing file is an error.
     */
    public static void writeSecret(Path file, String content, boolean overwrite) throws IOException {
        write(file, content, overwrite, "rw-------");
    }

    /** Writes a public file (mode 0644) atomically. */
    public static void writePublic(Path file, String content, boolean overwrite) throws IOException {
        write(file, content, overwrite, "rw-r--r--");
    }

    /** Parses one DER certificate. */
    public static X509Certificate fromDer(byte[] der, String source) throws IOException {
        try {
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            return (X509Certificate) factory.generateCertificate(new ByteArrayInputStream(der));
        } catch (CertificateException | RuntimeException e) {
            throw new IOException(source + ": not a DER X.509 certificate: " + e.getMessage(), e);
        }
    }

    private static void write(Path file, String content, boolean overwrite, String mode) throws IOException {
        requireNonNull(file, "file");
        if (!overwrite && Files.exists(file)) {
            throw new FileAlreadyExistsException(file + " exists; refusing to overwrite it");
        }
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(temp, content, StandardCharsets.US_ASCII);
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString(mode));
            try {
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    private static String readLimited(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new IOException(file + ": " + size + " bytes is larger than the " + MAX_FILE_BYTES + "-byte limit for a PEM file");
        }
        return Files.readString(file, StandardCharsets.US_ASCII);
    }

    private static Object readObject(PEMParser parser, String source) throws IOException {
        try {
            return parser.readObject();
        } catch (IOException | RuntimeException e) {
            throw new IOException(source + ": malformed PEM: " + e.getMessage(), e);
        }
    }

    private static String encode(Object... objects) {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
            for (Object object : objects) {
                writer.writeObject(object);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }
}
