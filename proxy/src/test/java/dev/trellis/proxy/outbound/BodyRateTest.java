package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The body's minimum rate on its own, on an embedded event loop whose clock is advanced by
 * hand: 240 bytes a second over each 2 s window, windows in which the proxy holds the client
 * back not counted, nothing measured once the body is whole.
 */
class BodyRateTest {

    private static final Duration WINDOW = Duration.ofSeconds(2);

    private final EmbeddedChannel loop = new EmbeddedChannel();
    private final AtomicBoolean heldBack = new AtomicBoolean();
    private final List<String> tooSlow = new ArrayList<>();
    private final BodyRate rate = new BodyRate(new dev.trellis.proxy.transport.Deadlines(loop.eventLoop()), WINDOW, heldBack::get, tooSlow::add);

    private void advance(Duration by) {
        loop.advanceTimeBy(by.toMillis(), TimeUnit.MILLISECONDS);
        loop.runScheduledPendingTasks();
    }

    @Test
    void aBodyTrickledBelowTheRateIsCutOffAtTheEndOfItsWindow() {
        rate.restart();
        for (int i = 0; i < 7; i++) {
            advance(Duration.ofMillis(250));
            rate.read(10);
        }
        assertThat(tooSlow).isEmpty();
        advance(Duration.ofMillis(300));
        assertThat(tooSlow).containsExactly("the request body came at 70 bytes in PT2S, below 240 bytes a second");
        advance(Duration.ofSeconds(10));
        assertThat(tooSlow).as("told once").hasSize(1);
    }

    @Test
    void eachWindowIsMeasuredOnItsOwnAndABodyAtTheRateGoesOn() {
        rate.restart();
        for (int window = 0; window < 5; window++) {
            rate.read(480);
            advance(WINDOW);
        }
        assertThat(tooSlow).isEmpty();
        // A fast first window earns nothing for the next: this one brings too little.
        rate.read(100);
        advance(WINDOW);
        assertThat(tooSlow).hasSize(1);
    }

    @Test
    void windowsInWhichTheProxyHoldsTheClientBackDoNotCount() {
        rate.restart();
        heldBack.set(true);
        advance(Duration.ofSeconds(20));
        assertThat(tooSlow).isEmpty();
        heldBack.set(false);
        rate.pause();
        advance(Duration.ofSeconds(20));
        assertThat(tooSlow).as("paused: no window runs").isEmpty();
        rate.restart();
        advance(WINDOW);
        assertThat(tooSlow).hasSize(1);
    }

    @Test
    void nothingIsMeasuredOnceTheBodyIsWhole() {
        rate.restart();
        rate.stop();
        rate.restart();
        advance(Duration.ofSeconds(20));
        assertThat(tooSlow).isEmpty();
    }
}
