package dev.trellis.proxy.outbound;

import java.util.function.LongSupplier;

/**
 * Bounds retries so that they cannot multiply load when endpoints fail: over a sliding
 * window of {@value #WINDOW_SECONDS} seconds, retries may add up to {@code ratio} of the
 * original requests plus {@code minPerSecond} per second (defaults 20 % and 10/s, as Linkerd).
 * Thread-safe.
 */
final class RetryBudget {

    static final int WINDOW_SECONDS = 10;

    private final double ratio;
    private final int minPerSecond;
    private final LongSupplier nanoTime;
    private final long[] requests = new long[WINDOW_SECONDS];
    private final long[] retries = new long[WINDOW_SECONDS];
    private long currentSecond;

    RetryBudget(double ratio, int minPerSecond, LongSupplier nanoTime) {
        this.ratio = ratio;
        this.minPerSecond = minPerSecond;
        this.nanoTime = nanoTime;
        this.currentSecond = nanoTime.getAsLong() / 1_000_000_000L;
    }

    static RetryBudget defaults() {
        return new RetryBudget(0.2, 10, System::nanoTime);
    }

    /** Counts an original request. */
    synchronized void request() {
        advance();
        requests[(int) (currentSecond % WINDOW_SECONDS)]++;
    }

    /** Takes one retry from the budget; false when the budget is spent. */
    synchronized boolean tryRetry() {
        advance();
        long requestSum = 0;
        long retrySum = 0;
        for (int i = 0; i < WINDOW_SECONDS; i++) {
            requestSum += requests[i];
            retrySum += retries[i];
        }
        if (retrySum + 1 > requestSum * ratio + (double) minPerSecond * WINDOW_SECONDS) {
            return false;
        }
        retries[(int) (currentSecond % WINDOW_SECONDS)]++;
        return true;
    }

    private void advance() {
        long now = nanoTime.getAsLong() / 1_000_000_000L;
        long steps = Math.min(now - currentSecond, WINDOW_SECONDS);
        for (long i = 1; i <= steps; i++) {
            int slot = (int) ((currentSecond + i) % WINDOW_SECONDS);
            requests[slot] = 0;
            retries[slot] = 0;
        }
        if (now > currentSecond) {
            currentSecond = now;
        }
    }
}
