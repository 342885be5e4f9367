package dev.trellis.proxy.policy;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.ratelimit.TokenBucket;
import dev.trellis.wire.policy.InboundServer;
import dev.trellis.wire.policy.RateLimit;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The per-Server request rate limits of the inbound policy: a total for the Server and one
 * per client identity (unauthenticated callers share one), with per-identity overrides.
 * Buckets are rebuilt when a Server's limit changes. Bounded: at most
 * {@value #MAX_BUCKETS} identities per Server have a bucket of their own; the identities
 * beyond share one bucket at the per-identity rate. (Dropping the buckets instead would let
 * a caller holding many identities — a tenant can create service accounts — reset everyone
 * else's limits.) Thread-safe.
 */
public final class InboundRateLimiter {

    static final int MAX_BUCKETS = 10_000;

    private final LongSupplier nanoTime;
    private final ConcurrentHashMap<String, ServerBuckets> servers = new ConcurrentHashMap<>();

    public InboundRateLimiter(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** Whether one more request to {@code policy}'s Server from {@code client} is within its limits. */
    public boolean tryAcquire(InboundServer policy, Optional<WorkloadIdentity> client) {
        if (policy.rateLimit().isEmpty()) {
            return true;
        }
        RateLimit limit = policy.rateLimit().get();
        String server = policy.label("name");
        ServerBuckets buckets = servers.compute(server, (k, existing) ->
                existing != null && existing.limit.equals(limit) ? existing : new ServerBuckets(limit, nanoTime.getAsLong()));
        long now = nanoTime.getAsLong();
        String caller = client.map(WorkloadIdentity::spiffeId).orElse("unauthenticated");
        int perIdentity = limit.overrides().stream().filter(o -> o.identities().contains(caller))
                .mapToInt(RateLimit.Override::rps).findFirst().orElse(limit.identityRps());
        if (perIdentity > 0) {
            TokenBucket bucket = buckets.byIdentity.get(caller);
            if (bucket == null) {
                bucket = buckets.byIdentity.size() >= MAX_BUCKETS
                        ? buckets.overflow(perIdentity, now)
                        : buckets.byIdentity.computeIfAbsent(caller, c -> new TokenBucket(perIdentity, Math.max(1, perIdentity), now));
            }
            if (!bucket.tryTake(now).isZero()) {
                return false;
            }
        }
        return buckets.total == null || buckets.total.tryTake(now).isZero();
    }

    private static final class ServerBuckets {
        final RateLimit limit;
        final TokenBucket total;
        final ConcurrentHashMap<String, TokenBucket> byIdentity = new ConcurrentHashMap<>();
        /** Shared by the identities past {@link #MAX_BUCKETS}. */
        private TokenBucket overflow;

        ServerBuckets(RateLimit limit, long now) {
            this.limit = limit;
            this.total = limit.totalRps() > 0 ? new TokenBucket(limit.totalRps(), Math.max(1, limit.totalRps()), now) : null;
        }

        synchronized TokenBucket overflow(int perIdentity, long now) {
            if (overflow == null) {
                overflow = new TokenBucket(perIdentity, Math.max(1, perIdentity), now);
            }
            return overflow;
        }
    }
}
