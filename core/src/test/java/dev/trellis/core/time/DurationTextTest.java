package dev.trellis.core.time;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationTextTest {

    @Test
    void formatsTheShortestExactFormThatParsesBack() {
        assertThat(DurationText.format(Duration.ofHours(24))).isEqualTo("1d");
        assertThat(DurationText.format(Duration.ofHours(36))).isEqualTo("36h");
        assertThat(DurationText.format(Duration.ofSeconds(90))).isEqualTo("90s");
        assertThat(DurationText.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
        assertThat(DurationText.format(Duration.ZERO)).isEqualTo("0s");
        for (Duration d : new Duration[] {Duration.ofDays(365), Duration.ofMinutes(10), Duration.ofMillis(1), Duration.ofNanos(5), Duration.ofSeconds(-3)}) {
            assertThat(DurationText.parse(DurationText.format(d))).isEqualTo(d);
        }
    }

    @Test
    void refusesWhatIsNotADuration() {
        assertThatThrownBy(() -> DurationText.parse("5 parsecs")).hasMessageContaining("'5 parsecs' is not a duration");
    }
}
