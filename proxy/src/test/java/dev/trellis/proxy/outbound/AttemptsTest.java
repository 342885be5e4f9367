package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The retry layer on its own: what may go again, how often, and within what budget. */
class AttemptsTest {

    private static final InetSocketAddress FIRST = new InetSocketAddress("10.0.0.1", 8080);
    private static final InetSocketAddress SECOND = new InetSocketAddress("10.0.0.2", 8080);

    private final AtomicLong now = new AtomicLong();

    private RetryBudget budget(int minPerSecond) {
        return new RetryBudget(0.2, minPerSecond, now::get);
    }

    @Test
    void aRetryableRequestGoesOnceMoreElsewhereAndNoFurther() {
        Attempts attempts = new Attempts(true, budget(10));
        attempts.begin();
        assertThat(attempts.avoid()).isEmpty();
        attempts.failedOn(FIRST);
        assertThat(attempts.mayRetry(true)).isTrue();
        attempts.begin();
        assertThat(attempts.avoid()).containsExactly(FIRST);
        attempts.failedOn(SECOND);
        assertThat(attempts.mayRetry(true)).as("one retry, not two").isFalse();
        assertThat(attempts.avoid()).containsExactlyInAnyOrder(FIRST, SECOND);
    }

    @Test
    void aNonIdempotentRequestOrABodyAlreadyStreamedIsNotRetried() {
        Attempts post = new Attempts(false, budget(10));
        post.begin();
        assertThat(post.mayRetry(true)).isFalse();

        Attempts streamedPut = new Attempts(true, budget(10));
        streamedPut.begin();
        assertThat(streamedPut.mayRetry(false)).as("part of its body has gone and is not held").isFalse();
    }

    @Test
    void retriesStopWhenTheAuthoritysBudgetIsSpent() {
        RetryBudget shared = budget(1);
        // 10 s window: 1 retry a second is 10, plus 20 % of 0 requests.
        int allowed = 0;
        for (int i = 0; i < 20; i++) {
            Attempts attempts = new Attempts(true, shared);
            attempts.begin();
            if (attempts.mayRetry(true)) {
                allowed++;
            }
        }
        assertThat(allowed).isEqualTo(10);
        // Original requests earn retries back: 50 requests are 10 more.
        for (int i = 0; i < 50; i++) {
            shared.request();
        }
        Attempts later = new Attempts(true, shared);
        later.begin();
        assertThat(later.mayRetry(true)).isTrue();
    }

    @Test
    void aRequestNoEndpointProcessedGoesAgainWhateverItsMethodOutsideTheBudgetUpToFourEndpoints() {
        RetryBudget spent = budget(0);
        Attempts post = new Attempts(false, spent);
        int sent = 0;
        do {
            post.begin();
            sent++;
            post.failedOn(new InetSocketAddress("10.0.0." + sent, 8080));
        } while (post.mayResendUnprocessed(true));
        assertThat(sent).isEqualTo(Attempts.MAX_UNPROCESSED);
        assertThat(post.avoid()).hasSize(Attempts.MAX_UNPROCESSED);

        Attempts streamed = new Attempts(true, spent);
        streamed.begin();
        assertThat(streamed.mayResendUnprocessed(false)).as("a body that went and is not held cannot be sent again").isFalse();
    }
}
