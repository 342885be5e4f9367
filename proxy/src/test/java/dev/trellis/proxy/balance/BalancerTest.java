package dev.trellis.proxy.balance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.discovery.Endpoint;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class BalancerTest {

    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private final Balancer balancer = new Balancer(clock::get);
    private final List<Endpoint> three = List.of(endpoint(1), endpoint(2), endpoint(3));

    @Test
    void spreadsRequestsOverEqualEndpoints() {
        Map<Integer, Integer> counts = run(3000, e -> Duration.ofMillis(5));
        assertThat(counts).containsOnlyKeys(1, 2, 3);
        counts.values().forEach(c -> assertThat(c).isBetween(700, 1300));
    }

    @Test
    void shiftsAwayFromASlowEndpoint() {
        Map<Integer, Integer> counts = run(3000, e -> e == 3 ? Duration.ofMillis(200) : Duration.ofMillis(5));
        assertThat(counts.getOrDefault(3, 0)).isLessThan(300);
    }

    @Test
    void ejectsAnEndpointThatKeepsFailingAndTakesItBackAfterTheBackoff() {
        for (int i = 0; i < 200; i++) {
            Balancer.Lease lease = balancer.pick(three).orElseThrow();
            if (port(lease) == 2) {
                lease.failed();
            } else {
                lease.succeeded();
            }
        }
        Map<Integer, Integer> whileEjected = new HashMap<>();
        for (int i = 0; i < 300; i++) {
            Balancer.Lease lease = balancer.pick(three).orElseThrow();
            whileEjected.merge(port(lease), 1, Integer::sum);
            lease.succeeded();
        }
        assertThat(whileEjected).doesNotContainKey(2);
        clock.addAndGet(Duration.ofSeconds(61).toNanos());
        boolean back = false;
        for (int i = 0; i < 300 && !back; i++) {
            Balancer.Lease lease = balancer.pick(three).orElseThrow();
            back = port(lease) == 2;
            clock.addAndGet(Duration.ofMillis(5).toNanos());
            lease.succeeded();
        }
        assertThat(back).isTrue();
    }

    @Test
    void fastFailuresDoNotMakeAnEndpointLookFast() {
        for (int i = 0; i < 300; i++) {
            Balancer.Lease lease = balancer.pick(three).orElseThrow();
            if (port(lease) == 3 && i % 2 == 0) {
                lease.failed();
            } else {
                clock.addAndGet(Duration.ofMillis(5).toNanos());
                lease.succeeded();
            }
        }
        Map<Integer, Integer> counts = run(300, e -> Duration.ofMillis(5));
        assertThat(counts.getOrDefault(3, 0)).isLessThan(counts.get(1));
    }

    @Test
    void aRetryAvoidsTheEndpointThatJustFailed() {
        for (int i = 0; i < 50; i++) {
            Balancer.Lease lease = balancer.pick(three, java.util.Set.of(endpoint(1).address(), endpoint(2).address())).orElseThrow();
            assertThat(port(lease)).isEqualTo(3);
            lease.succeeded();
        }
    }

    @Test
    void usesEveryEndpointWhenAllAreEjected() {
        List<Endpoint> one = List.of(endpoint(1));
        for (int i = 0; i < Balancer.FAILURES_TO_EJECT; i++) {
            balancer.pick(one).orElseThrow().failed();
        }
        assertThat(balancer.pick(one)).isPresent();
        assertThat(balancer.pick(List.of())).isEmpty();
    }

    /**
     * Two replicas, one slow answer: peak-EWMA takes the slow one's estimate up to that answer at
     * once, and P2C (which with two endpoints always compares both) sends everything to the other
     * until the estimate has decayed below it — ln(100/2) ≈ 4 decay constants, ~40 s, with
     * sequential requests that keep nothing pending. That is the design (Linkerd's and Finagle's
     * too: traffic leaves slowness fast and returns slowly); the demo's test waits for it.
     */
    @Test
    void aReplicaThatAnsweredOnceSlowlyGetsTrafficAgainOnceItsEstimateDecays() {
        List<Endpoint> two = List.of(endpoint(1), endpoint(2));
        java.util.function.IntFunction<Duration> fast = port -> Duration.ofMillis(2);
        // Warm: both answer in 2 ms.
        for (int i = 0; i < 200; i++) {
            Balancer.Lease lease = balancer.pick(two).orElseThrow();
            clock.addAndGet(fast.apply(port(lease)).toNanos());
            lease.succeeded();
            clock.addAndGet(Duration.ofMillis(50).toNanos());
        }
        // One 100 ms answer from replica 2 (a GC pause): the request that would have avoided replica 1.
        Balancer.Lease slow = balancer.pick(two, java.util.Set.of(endpoint(1).address())).orElseThrow();
        assertThat(port(slow)).isEqualTo(2);
        clock.addAndGet(Duration.ofMillis(100).toNanos());
        slow.succeeded();
        // Then 20 requests a second, one at a time, for 60 s: when does replica 2 get one again?
        long resumedAt = -1;
        for (int i = 0; i < 1200 && resumedAt < 0; i++) {
            Balancer.Lease lease = balancer.pick(two).orElseThrow();
            if (port(lease) == 2) {
                resumedAt = i * 50L;
            }
            clock.addAndGet(Duration.ofMillis(2).toNanos());
            lease.succeeded();
            clock.addAndGet(Duration.ofMillis(48).toNanos());
        }
        assertThat(resumedAt).as("ms until replica 2 is picked again").isBetween(30_000L, 45_000L);
    }

    private Map<Integer, Integer> run(int requests, java.util.function.IntFunction<Duration> latency) {
        Map<Integer, Integer> counts = new HashMap<>();
        for (int i = 0; i < requests; i++) {
            Balancer.Lease lease = balancer.pick(three).orElseThrow();
            int port = port(lease);
            counts.merge(port, 1, Integer::sum);
            clock.addAndGet(latency.apply(port).toNanos());
            lease.succeeded();
            clock.addAndGet(Duration.ofMillis(1).toNanos());
        }
        return counts;
    }

    private static int port(Balancer.Lease lease) {
        return lease.endpoint().address().getPort();
    }

    private static Endpoint endpoint(int port) {
        return new Endpoint(new InetSocketAddress("127.0.0.1", port), 1, Optional.empty(), 0, false, Map.of());
    }
}
