package dev.trellis.identity.issuer;

import static java.util.Objects.requireNonNull;

import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.LeafIssuer;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.TrustAnchors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateException;
import java.time.Clock;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the current issuer and reloads it from its certificate and key files.
 *
 * <p>{@link #poll} reads both files and, when their bytes differ from what was last loaded,
 * checks the new pair (key matches certificate, certificate is a CA, chains to the trust
 * anchors and is valid now) before it replaces the current issuer. A pair that fails the
 * checks — a half-written update, say — leaves the current issuer in force and is tried
 * again at the next poll. Polling (rather than file events) works the same for plain files,
 * Kubernetes Secret volumes (a symlink swap) and network file systems.
 *
 * <p>Thread-safe. The owner calls {@link #poll} periodically.
 */
public final class IssuerWatcher {

    private static final Logger log = LoggerFactory.getLogger(IssuerWatcher.class);

    /** Told of every reload attempt that found changed files. */
    public interface Listener {
        void loaded(LeafIssuer issuer);

        void rejected(String reason);
    }

    private final Path certificateFile;
    private final Path keyFile;
    private final TrustAnchors anchors;
    private final Clock clock;
    private final AtomicReference<LeafIssuer> current = new AtomicReference<>();
    private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    private byte[] loadedDigest = new byte[0];
    private byte[] rejectedDigest = new byte[0];

    public IssuerWatcher(Path certificateFile, Path keyFile, TrustAnchors anchors, Clock clock) {
        this.certificateFile = requireNonNull(certificateFile, "certificateFile");
        this.keyFile = requireNonNull(keyFile, "keyFile");
        this.anchors = requireNonNull(anchors, "anchors");
        this.clock = requireNonNull(clock, "clock");
    }

    public void addListener(Listener listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }

    /** The issuer in force; empty until a valid pair of files was loaded. */
    public Optional<LeafIssuer> current() {
        return Optional.ofNullable(current.get());
    }

    /** Where the issuer comes from, for messages. */
    public String source() {
        return certificateFile + " + " + keyFile;
    }

    /**
     * Reads the files and installs them when they changed and pass the checks.
     *
     * @return true when a new issuer was installed
     */
    public synchronized boolean poll() {
        byte[] certificateBytes;
        byte[] keyBytes;
        try {
            for (Path file : new Path[] {certificateFile, keyFile}) {
                long size = Files.size(file);
                if (size > Pem.MAX_FILE_BYTES) {
                    reject(new byte[] {3}, "issuer: " + file + " is " + size + " bytes, over the " + Pem.MAX_FILE_BYTES + "-byte limit for a PEM file");
                    return false;
                }
            }
            certificateBytes = Files.readAllBytes(certificateFile);
            keyBytes = Files.readAllBytes(keyFile);
        } catch (NoSuchFileException e) {
            reject(new byte[] {1}, "issuer: " + e.getFile() + " does not exist");
            return false;
        } catch (IOException e) {
            reject(new byte[] {2}, "issuer: cannot read " + source() + ": " + e);
            return false;
        }
        byte[] digest = digest(certificateBytes, keyBytes);
        if (Arrays.equals(digest, loadedDigest)) {
            return false;
        }
        CaCredentials credentials;
        try {
            credentials = CaCredentials.read(certificateFile, keyFile);
            anchors.verify(credentials.chain(), clock.instant());
        } catch (IOException | CertificateException | IllegalArgumentException e) {
            reject(digest, "issuer: " + source() + " not loaded: " + e.getMessage());
            return false;
        }
        LeafIssuer issuer = new LeafIssuer(credentials);
        LeafIssuer previous = current.getAndSet(issuer);
        loadedDigest = digest;
        rejectedDigest = new byte[0];
        log.info("identity: {} issuer {} (serial {}, valid until {}) from {}",
                previous == null ? "loaded" : "rotated to", credentials.certificate().getSubjectX500Principal().getName(),
                credentials.certificate().getSerialNumber().toString(16), issuer.notAfter(), source());
        for (Listener listener : listeners) {
            listener.loaded(issuer);
        }
        return true;
    }

    private void reject(byte[] digest, String reason) {
        // Report a bad pair once, not at every poll.
        if (Arrays.equals(digest, rejectedDigest)) {
            return;
        }
        rejectedDigest = digest;
        if (current.get() == null) {
            log.error("{}; the identity service stays unavailable until a valid issuer is there", reason);
        } else {
            log.error("{}; keeping the issuer in force", reason);
        }
        for (Listener listener : listeners) {
            listener.rejected(reason);
        }
    }

    private static byte[] digest(byte[] certificate, byte[] key) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(certificate);
            sha.update((byte) 0);
            sha.update(key);
            return sha.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
