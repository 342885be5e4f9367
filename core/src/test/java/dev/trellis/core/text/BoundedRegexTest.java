package dev.trellis.core.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class BoundedRegexTest {

    @Test
    void acceptsTheShapesRoutesUse() {
        for (String regex : new String[] {"/api/v[0-9]+/.*", "/(users|orders)/[^/]+", "[a-z]{1,20}", "/emojivoto\\.v1\\..*", "\\p{Alpha}+", "(?:ab)?c*"}) {
            assertThat(BoundedRegex.compile(regex).pattern()).isEqualTo(regex);
        }
    }

    @Test
    void refusesShapesThatBacktrackExponentially() {
        assertThatThrownBy(() -> BoundedRegex.compile("(a+)+$")).hasMessageContaining("repeated group");
        assertThatThrownBy(() -> BoundedRegex.compile("(a|aa)*b")).hasMessageContaining("repeated group");
        assertThatThrownBy(() -> BoundedRegex.compile("((ab)*c)+")).hasMessageContaining("repeated group");
        assertThatThrownBy(() -> BoundedRegex.compile("(a)\\1")).hasMessageContaining("back-references");
        assertThatThrownBy(() -> BoundedRegex.compile("(?=a)a")).hasMessageContaining("look-ahead");
        assertThatThrownBy(() -> BoundedRegex.compile("a{1,5000}")).hasMessageContaining("repetition count");
        assertThatThrownBy(() -> BoundedRegex.compile("x".repeat(300))).hasMessageContaining("at most 256");
        assertThatThrownBy(() -> BoundedRegex.compile("(")).hasMessageContaining("is not a regular expression");
    }

    @Test
    void matchingStopsWhenItsBudgetRunsOut() {
        // Compiled directly: the shape compile() refuses, to show the budget holds on its own.
        Pattern evil = Pattern.compile("(a+)+b");
        long start = System.nanoTime();
        assertThat(BoundedRegex.matches(evil, "a".repeat(40) + "c")).isFalse();
        assertThat(System.nanoTime() - start).isLessThan(5_000_000_000L);
        assertThat(BoundedRegex.matches(evil, "aaab")).isTrue();
        assertThat(BoundedRegex.matches(Pattern.compile("/api/.*"), "/api/" + "x".repeat(10_000))).isTrue();
    }
}
