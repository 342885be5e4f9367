package dev.trellis.injector.webhook;

import dev.trellis.tls.pki.Pem;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The webhook's serving certificate from PEM files (a Secret volume the installer writes),
 * looked at again at most every {@code checkMillis} and used for the next handshakes when it
 * changed — the way the identity service reloads its issuer. A change that does not parse,
 * or whose key is not the certificate's, keeps the previous certificate, is logged, and is
 * looked at again next time. Thread-safe.
 */
final class ReloadingServerTls implements Supplier<SslContext> {

    private static final Logger log = LoggerFactory.getLogger(ReloadingServerTls.class);

    private final Path certificate;
    private final Path key;
    private final long checkMillis;
    private volatile SslContext current;
    private volatile X509Certificate leaf;
    private volatile byte[] digest;
    private volatile long checkedAt;

    ReloadingServerTls(Path certificate, Path key, long checkMillis) throws IOException {
        this.certificate = certificate;
        this.key = key;
        this.checkMillis = checkMillis;
        byte[] now = digest();
        this.current = load();
        this.digest = now;
        this.checkedAt = System.currentTimeMillis();
    }

    @Override
    public SslContext get() {
        long now = System.currentTimeMillis();
        if (now - checkedAt >= checkMillis) {
            synchronized (this) {
                if (now - checkedAt >= checkMillis) {
                    checkedAt = now;
                    reloadIfChanged();
                }
            }
        }
        return current;
    }

    /** Empty while the certificate served is valid; else why the webhook should not be called. */
    java.util.Optional<String> problem(java.time.Instant now) {
        get();
        X509Certificate served = leaf;
        if (now.isAfter(served.getNotAfter().toInstant())) {
            return java.util.Optional.of("the serving certificate in " + certificate + " expired " + served.getNotAfter().toInstant());
        }
        if (now.isBefore(served.getNotBefore().toInstant())) {
            return java.util.Optional.of("the serving certificate in " + certificate + " is not valid before " + served.getNotBefore().toInstant());
        }
        return java.util.Optional.empty();
    }

    private void reloadIfChanged() {
        try {
            byte[] now = digest();
            if (!Arrays.equals(now, digest)) {
                current = load();
                digest = now;
                log.info("injector: serving certificate reloaded from {}", certificate);
            }
        } catch (IOException | RuntimeException e) {
            log.warn("injector: keeping the previous serving certificate: {}", e.getMessage());
        }
    }

    private SslContext load() throws IOException {
        List<X509Certificate> chain = Pem.readCertificates(certificate);
        PrivateKey privateKey = Pem.readPrivateKey(key);
        if (!belongTogether(privateKey, chain.getFirst())) {
            // e.g. caught between writing the two files: the next look may find the pair
            throw new IOException(key + " is not the key of the certificate in " + certificate);
        }
        try {
            SslContext context = SslContextBuilder.forServer(privateKey, chain).protocols("TLSv1.3", "TLSv1.2").build();
            leaf = chain.getFirst();
            return context;
        } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
            throw new IOException(certificate + " + " + key + ": not a usable serving certificate: " + e.getMessage(), e);
        }
    }

    /** Signs with the key and verifies with the certificate: a mismatched pair would fail every handshake. */
    private static boolean belongTogether(PrivateKey privateKey, X509Certificate leaf) {
        String algorithm = switch (privateKey.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519" -> "Ed25519";
            default -> null;
        };
        if (algorithm == null) {
            return true;
        }
        try {
            byte[] probe = "trellis injector key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(privateKey);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(leaf.getPublicKey());
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (java.security.GeneralSecurityException e) {
            return false;
        }
    }

    private byte[] digest() throws IOException {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(certificate));
            sha.update(Files.readAllBytes(key));
            return sha.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
