package dev.trellis.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The deadline wheel on an embedded loop whose clock the test moves. */
class DeadlinesTest {

    private final EmbeddedChannel loop = new EmbeddedChannel();
    private final Deadlines wheel;
    private final List<String> ran = new ArrayList<>();

    DeadlinesTest() {
        loop.freezeTime();
        wheel = new Deadlines(loop.eventLoop());
    }

    @AfterEach
    void close() {
        loop.finishAndReleaseAll();
    }

    private void advance(Duration by) {
        loop.advanceTimeBy(by.toMillis(), TimeUnit.MILLISECONDS);
        loop.runScheduledPendingTasks();
    }

    @Test
    void aDeadlineRunsOnceItIsDueAndNotBefore() {
        wheel.schedule(Duration.ofMillis(250), () -> ran.add("a"));
        advance(Duration.ofMillis(240));
        assertThat(ran).isEmpty();
        advance(Duration.ofMillis(20));
        assertThat(ran).containsExactly("a");
        advance(Duration.ofSeconds(20));
        assertThat(ran).as("once").containsExactly("a");
        assertThat(wheel.pending()).isZero();
    }

    @Test
    void aCancelledDeadlineNeverRunsAndLeavesNothingBehind() {
        Deadlines.Deadline first = wheel.schedule(Duration.ofMillis(100), () -> ran.add("first"));
        wheel.schedule(Duration.ofMillis(100), () -> ran.add("second"));
        first.cancel();
        first.cancel();
        assertThat(wheel.pending()).isEqualTo(1);
        advance(Duration.ofMillis(200));
        assertThat(ran).containsExactly("second");
    }

    @Test
    void deadlinesLongerThanATurnWaitWholeTurnsAndOrderIsKept() {
        long turn = Deadlines.SLOTS * Deadlines.TICK_MILLIS;
        wheel.schedule(Duration.ofMillis(turn + 30), () -> ran.add("a turn and 30 ms"));
        wheel.schedule(Duration.ofMillis(30), () -> ran.add("30 ms"));
        wheel.schedule(Duration.ofMillis(3 * turn), () -> ran.add("three turns"));
        advance(Duration.ofMillis(50));
        assertThat(ran).containsExactly("30 ms");
        advance(Duration.ofMillis(turn));
        assertThat(ran).containsExactly("30 ms", "a turn and 30 ms");
        advance(Duration.ofMillis(2 * turn));
        assertThat(ran).containsExactly("30 ms", "a turn and 30 ms", "three turns");
    }

    @Test
    void aTaskMayArmAndCancelOthersWhileItsSlotIsWalked() {
        List<Deadlines.Deadline> sameSlot = new ArrayList<>();
        wheel.schedule(Duration.ofMillis(100), () -> {
            ran.add("first");
            sameSlot.forEach(Deadlines.Deadline::cancel);
            wheel.schedule(Duration.ofMillis(100), () -> ran.add("armed by first"));
        });
        sameSlot.add(wheel.schedule(Duration.ofMillis(100), () -> ran.add("cancelled by first")));
        advance(Duration.ofMillis(110));
        advance(Duration.ofMillis(110));
        assertThat(ran).as("due in the same tick, run in the order armed").startsWith("first").doesNotContain("cancelled by first");
        assertThat(ran).contains("armed by first");
    }

    @Test
    void theWheelStopsTurningASecondAfterItsLastDeadlineAndStartsAgainForTheNext() {
        wheel.schedule(Duration.ofMillis(10), () -> ran.add("a"));
        assertThat(wheel.turning()).isTrue();
        advance(Duration.ofMillis(20));
        advance(Duration.ofMillis(Deadlines.IDLE_TICKS * Deadlines.TICK_MILLIS + 20));
        assertThat(wheel.turning()).isFalse();
        wheel.schedule(Duration.ofMillis(10), () -> ran.add("b"));
        assertThat(wheel.turning()).isTrue();
        advance(Duration.ofMillis(20));
        assertThat(ran).containsExactly("a", "b");
    }

    @Test
    void aFailingTaskDoesNotStopTheOthers() {
        wheel.schedule(Duration.ofMillis(50), () -> {
            throw new IllegalStateException("boom");
        });
        wheel.schedule(Duration.ofMillis(50), () -> ran.add("still"));
        advance(Duration.ofMillis(60));
        assertThat(ran).containsExactly("still");
    }
}
