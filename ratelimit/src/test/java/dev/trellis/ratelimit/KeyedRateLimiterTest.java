package dev.trellis.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class KeyedRateLimiterTest {

    private final AtomicLong nanos = new AtomicLong();

    @Test
    void allowsTheBurstThenTheRateAndTellsHowLongToWait() {
        KeyedRateLimiter<String> limiter = new KeyedRateLimiter<>(RateLimit.parse("2/s,3"), 100, nanos::get);
        for (int i = 0; i < 3; i++) {
            assertThat(limiter.tryAcquire("a")).isZero();
        }
        assertThat(limiter.tryAcquire("a")).isEqualTo(Duration.ofMillis(500));
        nanos.addAndGet(Duration.ofMillis(500).toNanos());
        assertThat(limiter.tryAcquire("a")).isZero();
    }

    @Test
    void keysHaveTheirOwnBuckets() {
        KeyedRateLimiter<String> limiter = new KeyedRateLimiter<>(RateLimit.parse("1/s,1"), 100, nanos::get);
        assertThat(limiter.tryAcquire("a")).isZero();
        assertThat(limiter.tryAcquire("a")).isPositive();
        assertThat(limiter.tryAcquire("b")).isZero();
    }

    @Test
    void parsesAndRefusesLimits() {
        assertThat(RateLimit.parse("20/s,200")).isEqualTo(new RateLimit(20, 200));
        assertThat(RateLimit.parse("0.5/s").burst()).isEqualTo(1);
        assertThat(RateLimit.parse("20/s,200")).hasToString("20/s,200");
        assertThatThrownBy(() -> RateLimit.parse("20")).hasMessageContaining("is not <rate>/s[,<burst>]");
        assertThatThrownBy(() -> RateLimit.parse("0/s,1")).hasMessageContaining("must be a positive number");
        assertThatThrownBy(() -> RateLimit.parse("5/s,0")).hasMessageContaining("at least 1");
    }
}
