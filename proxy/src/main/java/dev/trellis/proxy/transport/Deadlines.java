package dev.trellis.proxy.transport;

import static java.util.Objects.requireNonNull;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The deadlines of one event loop on a hashed wheel (issue 21, item 3): {@value #SLOTS} slots of
 * {@value #TICK_MILLIS} ms, turned by one fixed-rate task of the loop while deadlines are
 * pending (and for a second after the last). Arming a deadline links it into its slot and
 * cancelling unlinks it — no scheduled task, no priority queue per deadline, which the proxy
 * paid two of per HTTP/1 request (the request-head deadline and the response timer). A
 * deadline runs at the first tick at or after it falls due: at most one tick late, plus
 * whatever else the loop is doing then, as any task of the loop. Event loop only.
 */
public final class Deadlines {

    private static final Logger log = LoggerFactory.getLogger(Deadlines.class);

    static final long TICK_MILLIS = 10;
    static final int SLOTS = 512;
    /** Ticks without a pending deadline before the wheel stops turning. */
    static final int IDLE_TICKS = 100;
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS);

    /** Where a path finds the wheel of a channel's loop. */
    @FunctionalInterface
    public interface Source {
        Deadlines of(EventLoop loop);
    }

    /** One armed deadline. */
    public static final class Deadline {
        private final Deadlines wheel;
        private final long at;
        private final Runnable task;
        private Deadline previous;
        private Deadline next;
        private boolean linked;
        /** Taken out of its slot as due, about to run in this tick. */
        private boolean due;

        private Deadline(Deadlines wheel, long at, Runnable task) {
            this.wheel = wheel;
            this.at = at;
            this.task = task;
        }

        /** It will not run, even when it fell due in the tick now running (a no-op once it ran or was cancelled). */
        public void cancel() {
            if (linked) {
                wheel.unlink(this);
                wheel.pending--;
            }
            due = false;
        }
    }

    private final EventLoop loop;
    private final Deadline[] slots = new Deadline[SLOTS];
    private long ticks;
    private int pending;
    private int idle;
    private ScheduledFuture<?> turning;

    public Deadlines(EventLoop loop) {
        this.loop = requireNonNull(loop, "loop");
    }

    /** Runs {@code task} on the loop once {@code after} has passed, unless the deadline is cancelled first. */
    public Deadline schedule(Duration after, Runnable task) {
        long wait = Math.max(1, (after.toNanos() + TICK_NANOS - 1) / TICK_NANOS);
        Deadline deadline = new Deadline(this, ticks + wait, requireNonNull(task, "task"));
        link(deadline);
        pending++;
        idle = 0;
        if (turning == null) {
            turning = loop.scheduleAtFixedRate(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
        }
        return deadline;
    }

    /** Deadlines armed and neither run nor cancelled. */
    int pending() {
        return pending;
    }

    /** Whether the wheel's task is scheduled. */
    boolean turning() {
        return turning != null;
    }

    private void link(Deadline deadline) {
        int slot = (int) (deadline.at & (SLOTS - 1));
        Deadline head = slots[slot];
        deadline.next = head;
        deadline.previous = null;
        if (head != null) {
            head.previous = deadline;
        }
        slots[slot] = deadline;
        deadline.linked = true;
    }

    private void unlink(Deadline deadline) {
        int slot = (int) (deadline.at & (SLOTS - 1));
        if (deadline.previous != null) {
            deadline.previous.next = deadline.next;
        } else {
            slots[slot] = deadline.next;
        }
        if (deadline.next != null) {
            deadline.next.previous = deadline.previous;
        }
        deadline.previous = null;
        deadline.next = null;
        deadline.linked = false;
    }

    private void tick() {
        ticks++;
        int slot = (int) (ticks & (SLOTS - 1));
        // Those due are taken out first: a task may arm or cancel others while the slot is walked.
        List<Deadline> due = null;
        for (Deadline deadline = slots[slot]; deadline != null; ) {
            Deadline next = deadline.next;
            if (deadline.at <= ticks) {
                unlink(deadline);
                pending--;
                deadline.due = true;
                if (due == null) {
                    due = new ArrayList<>(4);
                }
                due.add(deadline);
            }
            deadline = next;
        }
        if (due != null) {
            // A slot is kept newest first: those due in one tick run in the order they were armed.
            java.util.Collections.reverse(due);
            for (Deadline deadline : due) {
                if (!deadline.due) {
                    // Cancelled by a task that ran before it in this tick.
                    continue;
                }
                deadline.due = false;
                try {
                    deadline.task.run();
                } catch (RuntimeException e) {
                    log.warn("proxy: a deadline's task failed: {}", e.toString(), e);
                }
            }
        }
        if (pending == 0 && ++idle >= IDLE_TICKS && turning != null) {
            turning.cancel(false);
            turning = null;
        }
    }
}
