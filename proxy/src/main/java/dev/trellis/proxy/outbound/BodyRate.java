package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.transport.Deadlines;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * A request body's minimum rate, the layer that cuts off a client trickling its body: every
 * window of {@code window} (the header timeout) must bring at least
 * {@value #MIN_BYTES_PER_SECOND} bytes a second, as Kestrel requires. A window in which the
 * proxy itself holds the client back ({@code heldBack}: backpressure, or waiting for the
 * endpoint's stream) does not count, and no window is measured while {@link #pause}d. Too slow:
 * {@code tooSlow} hears why, once. One per request; event-loop only.
 */
final class BodyRate {

    static final int MIN_BYTES_PER_SECOND = 240;

    private final Deadlines deadlines;
    private final Duration window;
    private final BooleanSupplier heldBack;
    private final Consumer<String> tooSlow;
    private Deadlines.Deadline timer;
    private long bytes;
    private boolean stopped;

    BodyRate(Deadlines deadlines, Duration window, BooleanSupplier heldBack, Consumer<String> tooSlow) {
        this.deadlines = requireNonNull(deadlines, "deadlines");
        this.window = requireNonNull(window, "window");
        this.heldBack = requireNonNull(heldBack, "heldBack");
        this.tooSlow = requireNonNull(tooSlow, "tooSlow");
    }

    /** A window begins (again, after a pause): its bytes are counted from zero. */
    void restart() {
        cancel();
        bytes = 0;
        if (!stopped) {
            timer = deadlines.schedule(window, this::windowEnded);
        }
    }

    /** {@code count} more bytes of the body arrived. */
    void read(int count) {
        bytes += count;
    }

    /** The proxy stops reading the client for now: no window runs until {@link #restart}. */
    void pause() {
        cancel();
    }

    /** The body is whole, or the request is over: nothing more is measured. */
    void stop() {
        stopped = true;
        cancel();
    }

    private void windowEnded() {
        if (stopped) {
            return;
        }
        long minimum = MIN_BYTES_PER_SECOND * Math.max(1, window.toSeconds());
        if (heldBack.getAsBoolean() || bytes >= minimum) {
            restart();
            return;
        }
        stopped = true;
        tooSlow.accept("the request body came at " + bytes + " bytes in " + window + ", below " + MIN_BYTES_PER_SECOND + " bytes a second");
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel();
            timer = null;
        }
    }
}
