package dev.trellis.ratelimit;

import java.time.Duration;

/**
 * A token bucket: {@code burst} tokens at most, refilled at {@code ratePerSecond}. Each
 * allowed call takes one token. Thread-safe; time comes from {@link System#nanoTime} passed in
 * by the caller, so tests can drive it.
 */
public final class TokenBucket {

    private final double ratePerNano;
    private final double burst;
    private double tokens;
    private long lastRefillNanos;

    public TokenBucket(double ratePerSecond, int burst, long nowNanos) {
        if (ratePerSecond <= 0 || burst < 1) {
            throw new IllegalArgumentException("rate limit: rate " + ratePerSecond + "/s and burst " + burst + " must be positive");
        }
        this.ratePerNano = ratePerSecond / 1e9;
        this.burst = burst;
        this.tokens = burst;
        this.lastRefillNanos = nowNanos;
    }

    /** Takes a token and returns zero, or returns how long until one is available. */
    public synchronized Duration tryTake(long nowNanos) {
        long elapsed = Math.max(0, nowNanos - lastRefillNanos);
        tokens = Math.min(burst, tokens + elapsed * ratePerNano);
        lastRefillNanos = nowNanos;
        if (tokens >= 1) {
            tokens -= 1;
            return Duration.ZERO;
        }
        return Duration.ofNanos((long) Math.ceil((1 - tokens) / ratePerNano));
    }
}
