package dev.trellis.viz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The metrics API's reader of the Prometheus text proxies serve: any text yields samples
 * (lines it cannot read are skipped), never an exception, and never more samples than lines.
 */
class PromTextFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void readsWhatItCanAndSkipsTheRest(byte[] input) {
        String text = new String(input, java.nio.charset.StandardCharsets.UTF_8);
        var samples = PromText.parse(text);
        assertThat(samples.size()).isLessThanOrEqualTo(text.split("\n", -1).length);
        samples.forEach(sample -> assertThat(sample.name()).doesNotContain("\n"));
    }
}
