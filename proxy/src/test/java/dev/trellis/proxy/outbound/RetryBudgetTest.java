package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RetryBudgetTest {

    private final AtomicLong nanos = new AtomicLong(5_000_000_000L);
    private final RetryBudget budget = new RetryBudget(0.2, 10, nanos::get);

    @Test
    void allowsTheMinimumPerSecondOverTheWindowWithoutRequests() {
        int allowed = 0;
        while (budget.tryRetry()) {
            allowed++;
        }
        assertThat(allowed).isEqualTo(100);
    }

    @Test
    void addsTwentyPercentOfRequests() {
        for (int i = 0; i < 1000; i++) {
            budget.request();
        }
        int allowed = 0;
        while (budget.tryRetry()) {
            allowed++;
        }
        assertThat(allowed).isEqualTo(300);
    }

    @Test
    void spentRetriesComeBackAsTheWindowSlides() {
        while (budget.tryRetry()) {
            // spend it all
        }
        assertThat(budget.tryRetry()).isFalse();
        nanos.addAndGet(11_000_000_000L);
        assertThat(budget.tryRetry()).isTrue();
    }
}
