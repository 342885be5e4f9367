package dev.trellis.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.policy.v1.InboundServer;
import dev.trellis.api.policy.v1.RateLimit;
import dev.trellis.core.identity.WorkloadIdentity;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Per-identity rate limits on their own, with a hand-moved clock. */
class InboundRateLimiterTest {

    private static final InboundServer SERVER = InboundServer.newBuilder().putLabels("name", "voting-http")
            .setRateLimit(RateLimit.newBuilder().setIdentityRps(2)).build();

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final InboundRateLimiter limiter = new InboundRateLimiter(now::get);

    private static Optional<WorkloadIdentity> identity(String account) {
        return Optional.of(WorkloadIdentity.parseSpiffeId("spiffe://cluster.local/ns/tenant/sa/" + account));
    }

    private static dev.trellis.wire.policy.InboundServer wire(InboundServer policy) {
        return dev.trellis.proxy.WireMessages.read(policy, dev.trellis.wire.policy.InboundServer::read);
    }

    @Test
    void eachIdentityHasItsOwnBudget() {
        assertThat(limiter.tryAcquire(wire(SERVER), identity("web"))).isTrue();
        assertThat(limiter.tryAcquire(wire(SERVER), identity("web"))).isTrue();
        assertThat(limiter.tryAcquire(wire(SERVER), identity("web"))).as("burst of 2 spent").isFalse();
        assertThat(limiter.tryAcquire(wire(SERVER), identity("vote-bot"))).isTrue();
        now.addAndGet(1_000_000_000L);
        assertThat(limiter.tryAcquire(wire(SERVER), identity("web"))).as("a second later").isTrue();
    }

    /** A caller holding many identities must not reset the limits of the others by filling the table. */
    @Test
    void identitiesPastTheCapShareOneBucketAndTheOthersKeepTheirs() {
        assertThat(limiter.tryAcquire(wire(SERVER), identity("web"))).isTrue();
        assertThat(limiter.tryAcquire(wire(SERVER), identity("web"))).isTrue();
        assertThat(limiter.tryAcquire(wire(SERVER), identity("web"))).isFalse();
        for (int i = 0; i < InboundRateLimiter.MAX_BUCKETS + 10; i++) {
            limiter.tryAcquire(wire(SERVER), identity("flood-" + i));
        }
        assertThat(limiter.tryAcquire(wire(SERVER), identity("web"))).as("web's spent budget was not reset by the flood").isFalse();
        now.addAndGet(1_000_000_000L);
        int served = 0;
        for (int i = 0; i < 100; i++) {
            served += limiter.tryAcquire(wire(SERVER), identity("late-" + i)) ? 1 : 0;
        }
        assertThat(served).as("identities past the cap share one bucket of 2").isEqualTo(2);
    }
}
