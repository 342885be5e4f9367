package dev.trellis.destination;

import dev.trellis.ratelimit.KeyedRateLimiter;
import dev.trellis.ratelimit.RateLimit;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Threat-model finding 2: what one caller may hold and ask of the destination service. A
 * cap on open streams per caller identity and per peer address, and a rate of new calls per
 * identity. Thread-safe.
 */
final class CallerLimits {

    private final int streamsPerIdentity;
    private final int streamsPerPeer;
    private final KeyedRateLimiter<String> calls;
    private final ConcurrentHashMap<String, Integer> byIdentity = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Integer> byPeer = new ConcurrentHashMap<>();

    CallerLimits(int streamsPerIdentity, int streamsPerPeer, RateLimit callRate) {
        this.streamsPerIdentity = streamsPerIdentity;
        this.streamsPerPeer = streamsPerPeer;
        this.calls = KeyedRateLimiter.create(callRate);
    }

    /** A held stream slot; closing it gives the slot back (once). */
    interface Slot extends AutoCloseable {
        @Override
        void close();
    }

    /** A slot, or why there is none (a metric label, and part of the RESOURCE_EXHAUSTED message). */
    record Admission(Optional<Slot> slot, Optional<String> refusedBecause) {
        static Admission refused(String reason) {
            return new Admission(Optional.empty(), Optional.of(reason));
        }
    }

    /** Takes a stream slot for {@code caller}, counting the call against its rate. */
    Admission tryOpen(Caller caller) {
        String identity = caller.identity().spiffeId();
        if (!calls.tryAcquire(identity).isZero()) {
            return Admission.refused("call_rate");
        }
        if (!increment(byIdentity, identity, streamsPerIdentity)) {
            return Admission.refused("streams_per_identity");
        }
        if (!increment(byPeer, caller.peer(), streamsPerPeer)) {
            decrement(byIdentity, identity);
            return Admission.refused("streams_per_peer");
        }
        AtomicBoolean released = new AtomicBoolean();
        Slot slot = () -> {
            if (released.compareAndSet(false, true)) {
                decrement(byIdentity, identity);
                decrement(byPeer, caller.peer());
            }
        };
        return new Admission(Optional.of(slot), Optional.empty());
    }

    int streamsPerIdentity() {
        return streamsPerIdentity;
    }

    int streamsPerPeer() {
        return streamsPerPeer;
    }

    private static boolean increment(ConcurrentHashMap<String, Integer> counts, String key, int max) {
        boolean[] ok = new boolean[1];
        counts.compute(key, (k, n) -> {
            int current = n == null ? 0 : n;
            ok[0] = current < max;
            return ok[0] ? current + 1 : (n == null ? null : n);
        });
        return ok[0];
    }

    private static void decrement(ConcurrentHashMap<String, Integer> counts, String key) {
        counts.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
    }
}
