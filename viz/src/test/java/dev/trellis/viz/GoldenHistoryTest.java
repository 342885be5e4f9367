package dev.trellis.viz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class GoldenHistoryTest {

    private final Instant start = Instant.parse("2026-12-06T10:00:00Z");

    private static StatRow row(double rps, Double success, Double p99) {
        return new StatRow("ns", "Deployment", "web", 1, 1, success, rps, p99, p99, p99, 0, 0, 0, true);
    }

    @Test
    void coarserPointsAverageRatesWeighSuccessByRequestsAndKeepTheWorstLatency() {
        GoldenHistory history = new GoldenHistory(10);
        for (int i = 0; i < 6; i++) {
            history.record("w", start.plusSeconds(10L * i), i < 3 ? row(10, 1.0, 5.0) : row(30, 0.5, i == 4 ? 100.0 : 5.0));
        }
        assertThat(history.samples("w", GoldenHistory.Range.FIVE_MINUTES)).hasSize(6);
        assertThat(history.samples("w", GoldenHistory.Range.ONE_HOUR)).singleElement().satisfies(minute -> {
            assertThat(minute.rps()).isCloseTo(20, within(1e-9));
            assertThat(minute.successRate()).isCloseTo((30 * 1.0 + 90 * 0.5) / 120, within(1e-9));
            assertThat(minute.latencyP99Ms()).isEqualTo(100.0);
            assertThat(minute.at()).isEqualTo(start.plusSeconds(50));
        });
    }

    @Test
    void ringsKeepTheirLengthAndASecondRecordWithinAStepIsIgnored() {
        GoldenHistory history = new GoldenHistory(10);
        for (int i = 0; i < 40; i++) {
            history.record("w", start.plusSeconds(10L * i), row(i, null, null));
            history.record("w", start.plusSeconds(10L * i + 1), row(999, null, null));
        }
        assertThat(history.samples("w", GoldenHistory.Range.FIVE_MINUTES)).hasSize(30).extracting(GoldenHistory.Sample::rps).doesNotContain(999.0);
        assertThat(history.samples("w", GoldenHistory.Range.FIVE_MINUTES).getLast().rps()).isEqualTo(39);
    }

    @Test
    void workloadsBeyondTheCapGetNoHistoryAndOldOnesAreForgotten() {
        GoldenHistory history = new GoldenHistory(2);
        history.record("a", start, row(1, null, null));
        history.record("b", start, row(1, null, null));
        history.record("c", start, row(1, null, null));
        assertThat(history.samples("c", GoldenHistory.Range.FIVE_MINUTES)).isEmpty();
        history.expire(start.plus(Duration.ofHours(7)));
        history.record("c", start.plus(Duration.ofHours(7)), row(1, null, null));
        assertThat(history.samples("a", GoldenHistory.Range.FIVE_MINUTES)).isEmpty();
        assertThat(history.samples("c", GoldenHistory.Range.FIVE_MINUTES)).hasSize(1);
    }

    @Test
    void aRangeIsOneOfThree() {
        assertThat(GoldenHistory.Range.parse("1h")).isEqualTo(GoldenHistory.Range.ONE_HOUR);
        assertThatThrownBy(() -> GoldenHistory.Range.parse("2d")).hasMessageContaining("'2d' is not 5m, 1h or 6h");
    }
}
