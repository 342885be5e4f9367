package dev.trellis.proxy.balance;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.discovery.Endpoint;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * Picks an endpoint per request (per connection for TCP) by the power of two choices: two
 * endpoints drawn at random, the one with the lower cost wins, where cost is the peak-EWMA
 * latency times (pending + 1). Peak EWMA jumps up to a slow observation at once and decays
 * back over {@link #DECAY}, so a slow endpoint loses traffic quickly and wins it back slowly.
 *
 * <p>Failure accrual: {@value #FAILURES_TO_EJECT} failures in a row eject an endpoint for a
 * backoff (1 s, doubling to 60 s); a success clears it. When every endpoint is ejected, all
 * are used again rather than failing every request.
 *
 * <p>Load state lives per address and survives endpoint-set updates. Thread-safe.
 */
public final class Balancer {

    static final Duration DECAY = Duration.ofSeconds(10);
    static final int FAILURES_TO_EJECT = 5;
    static final Duration FAILURE_PENALTY = Duration.ofSeconds(1);
    static final Duration MIN_EJECTION = Duration.ofSeconds(1);
    static final Duration MAX_EJECTION = Duration.ofSeconds(60);

    private final ConcurrentHashMap<InetSocketAddress, Load> loads = new ConcurrentHashMap<>();
    private final LongSupplier nanoTime;

    public Balancer(LongSupplier nanoTime) {
        this.nanoTime = requireNonNull(nanoTime, "nanoTime");
    }

    public static Balancer create() {
        return new Balancer(System::nanoTime);
    }

    /** Picks one of {@code endpoints}; empty when there are none. The lease must be ended once. */
    public Optional<Lease> pick(List<Endpoint> endpoints) {
        return pick(endpoints, java.util.Set.of());
    }

    /**
     * Picks one of {@code endpoints}, avoiding {@code avoid} (addresses that just failed this
     * request) unless nothing else is left.
     */
    public Optional<Lease> pick(List<Endpoint> endpoints, java.util.Set<InetSocketAddress> avoid) {
        if (!avoid.isEmpty()) {
            List<Endpoint> others = endpoints.stream().filter(e -> !avoid.contains(e.address())).toList();
            if (!others.isEmpty()) {
                endpoints = others;
            }
        }
        if (endpoints.isEmpty()) {
            return Optional.empty();
        }
        long now = nanoTime.getAsLong();
        List<Endpoint> candidates = new ArrayList<>(endpoints.size());
        for (Endpoint endpoint : endpoints) {
            if (!load(endpoint).isEjected(now)) {
                candidates.add(endpoint);
            }
        }
        if (candidates.isEmpty()) {
            candidates = endpoints;
        }
        Endpoint chosen;
        if (candidates.size() == 1) {
            chosen = candidates.getFirst();
        } else {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            int a = random.nextInt(candidates.size());
            int b = random.nextInt(candidates.size() - 1);
            if (b >= a) {
                b++;
            }
            Endpoint first = candidates.get(a);
            Endpoint second = candidates.get(b);
            chosen = load(first).cost(now) / first.weight() <= load(second).cost(now) / second.weight() ? first : second;
        }
        Load load = load(chosen);
        load.start();
        return Optional.of(new Lease(chosen, load, now));
    }

    /** Forgets addresses no longer in {@code endpoints}. */
    public void retain(List<Endpoint> endpoints) {
        loads.keySet().retainAll(endpoints.stream().map(Endpoint::address).toList());
    }

    private Load load(Endpoint endpoint) {
        return loads.computeIfAbsent(endpoint.address(), a -> new Load(nanoTime.getAsLong()));
    }

    /** One use of an endpoint; report how it went exactly once. */
    public final class Lease {
        private final Endpoint endpoint;
        private final Load load;
        private long started;
        private boolean ended;

        private Lease(Endpoint endpoint, Load load, long started) {
            this.endpoint = endpoint;
            this.load = load;
            this.started = started;
        }

        public Endpoint endpoint() {
            return endpoint;
        }

        /**
         * Starts the latency clock now, for callers whose first step (opening a connection
         * shared with other endpoints) should not count as this endpoint's latency.
         */
        public synchronized void restartClock() {
            started = nanoTime.getAsLong();
        }

        /** The request (or connection attempt) succeeded; its latency feeds the EWMA. */
        public synchronized void succeeded() {
            if (!ended) {
                ended = true;
                long now = nanoTime.getAsLong();
                load.finish(now, now - started, true);
            }
        }

        /** It failed (connect refused, reset, 5xx from the peer proxy…). */
        public synchronized void failed() {
            if (!ended) {
                ended = true;
                long now = nanoTime.getAsLong();
                load.finish(now, now - started, false);
            }
        }
    }

    /**
     * Peak EWMA as in Finagle: an observation above the estimate replaces it; one below pulls
     * it down with weight by elapsed time; with no observations the estimate decays toward
     * zero, so an endpoint that was slow is tried again after a while. An endpoint never
     * observed costs nothing until it has requests pending, so new endpoints get traffic first.
     */
    private static final class Load {
        /** Added to the estimate so that pending requests count even at zero latency. */
        private static final double FLOOR_NANOS = 1_000;

        private double ewmaNanos;
        private long stamp;
        private int pending;
        private int consecutiveFailures;
        private int ejections;
        private long ejectedUntil;

        Load(long now) {
            this.stamp = now;
        }

        synchronized boolean isEjected(long now) {
            return now < ejectedUntil;
        }

        synchronized double cost(long now) {
            observe(now, 0);
            return (ewmaNanos + FLOOR_NANOS) * (pending + 1);
        }

        synchronized void start() {
            pending++;
        }

        synchronized void finish(long now, long latencyNanos, boolean success) {
            pending = Math.max(0, pending - 1);
            // A fast failure must not make an endpoint look fast: failures count as slow.
            observe(now, success ? latencyNanos : Math.max(latencyNanos, FAILURE_PENALTY.toNanos()));
            if (success) {
                consecutiveFailures = 0;
                ejections = 0;
            } else if (++consecutiveFailures >= FAILURES_TO_EJECT) {
                long backoff = Math.min(MIN_EJECTION.toNanos() << Math.min(ejections, 6), MAX_EJECTION.toNanos());
                ejectedUntil = now + backoff;
                ejections++;
                consecutiveFailures = 0;
            }
        }

        private void observe(long now, double latencyNanos) {
            long elapsed = Math.max(0, now - stamp);
            stamp = now;
            if (latencyNanos > ewmaNanos) {
                ewmaNanos = latencyNanos;
            } else {
                double weight = Math.exp(-(double) elapsed / DECAY.toNanos());
                ewmaNanos = ewmaNanos * weight + latencyNanos * (1 - weight);
            }
        }
    }
}
