package dev.trellis.proxy.controlplane;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How long a control-plane stream waits before reconnecting: exponential from an initial delay
 * up to 30 s, with the upper half jittered, so that proxies that lost the same server do not
 * return all at once.
 */
final class ReconnectBackoff {

    static final Duration MAX = Duration.ofSeconds(30);

    private ReconnectBackoff() {
    }

    /** The delay before reconnect number {@code attempt} (0 after a stream that had answered). */
    static long millis(Duration initial, int attempt) {
        long base = initial.toMillis() << Math.min(attempt, 10);
        long capped = Math.min(base, MAX.toMillis());
        return capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1);
    }
}
