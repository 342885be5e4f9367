package dev.trellis.demo;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.identity.auth.LocalTokens;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's workload tokens, kept fresh the way a kubelet keeps projected service-account
 * tokens fresh: each file is rewritten in place (atomically) with a new token at half its
 * lifetime, and the identity clients read it anew at every renewal. Without this, a demo that
 * ran longer than one token lifetime would stop renewing certificates (an outside review saw
 * exactly that with short tokens). Thread-safe; {@link #close} stops the refreshing.
 */
final class DemoTokens implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DemoTokens.class);

    private final Path dir;
    private final PrivateKey key;
    private final Duration lifetime;
    private final Clock clock;
    private final Map<WorkloadIdentity, Path> files = new ConcurrentHashMap<>();
    private final ScheduledExecutorService refresher = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread thread = new Thread(r, "trellis-demo-tokens");
        thread.setDaemon(true);
        return thread;
    });

    DemoTokens(Path dir, PrivateKey key, Duration lifetime, Clock clock) {
        this.dir = requireNonNull(dir, "dir");
        this.key = requireNonNull(key, "key");
        this.lifetime = requireNonNull(lifetime, "lifetime");
        this.clock = requireNonNull(clock, "clock");
        long half = Math.max(1, lifetime.toMillis() / 2);
        refresher.scheduleAtFixedRate(this::refreshAll, half, half, TimeUnit.MILLISECONDS);
    }

    /** The token file of {@code identity}, written now (0600) and rewritten at every refresh. */
    Path fileFor(WorkloadIdentity identity) throws IOException {
        Path file = dir.resolve(identity.namespace() + "-" + identity.serviceAccount() + ".token");
        write(identity, file);
        files.put(identity, file);
        return file;
    }

    private void refreshAll() {
        files.forEach((identity, file) -> {
            try {
                write(identity, file);
            } catch (IOException | RuntimeException e) {
                log.warn("demo: cannot refresh the token of {} in {}: {}", identity, file, e.toString());
            }
        });
    }

    private void write(WorkloadIdentity identity, Path file) throws IOException {
        Path next = Files.createTempFile(dir, ".token-", ".tmp");
        Files.setPosixFilePermissions(next, PosixFilePermissions.fromString("rw-------"));
        Files.writeString(next, LocalTokens.mint(key, identity, lifetime, clock.instant()));
        try {
            Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(next, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Override
    public void close() {
        refresher.shutdownNow();
    }
}
