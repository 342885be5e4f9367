package dev.trellis.ratelimit;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * One token bucket per key (a peer address, an identity), with a bounded number of keys:
 * buckets idle for ten minutes are forgotten, and at most {@code maxKeys} are kept, so a
 * flood of distinct keys costs bounded memory. A forgotten key starts again with a full
 * bucket, which is no more than a new caller gets. Thread-safe.
 */
public final class KeyedRateLimiter<K> {

    private final RateLimit limit;
    private final LongSupplier nanoTime;
    private final Cache<K, TokenBucket> buckets;

    public KeyedRateLimiter(RateLimit limit, long maxKeys, LongSupplier nanoTime) {
        this.limit = requireNonNull(limit, "limit");
        this.nanoTime = requireNonNull(nanoTime, "nanoTime");
        this.buckets = Caffeine.newBuilder()
                .maximumSize(maxKeys)
                .expireAfterAccess(Duration.ofMinutes(10))
                .build();
    }

    public static <K> KeyedRateLimiter<K> create(RateLimit limit) {
        return new KeyedRateLimiter<>(limit, 100_000, System::nanoTime);
    }

    /** Takes a token for {@code key}: zero when allowed, else how long until the next one. */
    public Duration tryAcquire(K key) {
        long now = nanoTime.getAsLong();
        return buckets.get(key, k -> new TokenBucket(limit.perSecond(), limit.burst(), now)).tryTake(now);
    }

    public RateLimit limit() {
        return limit;
    }
}
