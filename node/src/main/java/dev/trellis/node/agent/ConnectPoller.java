package dev.trellis.node.agent;

import dev.trellis.node.handoff.LinuxSockets;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connections in progress for every pod, watched by one thread with one {@code poll}: a
 * destination that never answers holds no thread, only its descriptor until its deadline, so
 * one pod's slow connects cannot delay another's. Each ends once, on this thread, with its
 * outcome. Thread-safe.
 */
final class ConnectPoller implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ConnectPoller.class);

    /** Most connections in progress at once, all pods together; more are refused. */
    static final int MAX_PENDING = 4096;

    /**
     * A connection in progress on {@code fd} to {@code remote}, ending by {@code deadline}
     * ({@link System#nanoTime}): {@code done} gets empty when it connected, else why not.
     */
    record Pending(int fd, InetSocketAddress remote, long deadline, Consumer<Optional<String>> done) {}

    private final ConcurrentLinkedQueue<Pending> incoming = new ConcurrentLinkedQueue<>();
    private final AtomicInteger count = new AtomicInteger();
    private final int wake;
    private final Thread thread;
    private volatile boolean closed;

    ConnectPoller() throws IOException {
        this.wake = LinuxSockets.eventFd();
        this.thread = new Thread(this::loop, "trellis-agent-connects");
        thread.setDaemon(true);
        thread.start();
    }

    /** Watches {@code pending} until it ends. @throws RejectedExecutionException when {@value #MAX_PENDING} are in progress or closing */
    void watch(Pending pending) {
        if (closed || count.incrementAndGet() > MAX_PENDING) {
            count.decrementAndGet();
            throw new RejectedExecutionException(closed ? "the agent is closing" : "the agent has " + MAX_PENDING + " connections opening");
        }
        incoming.add(pending);
        LinuxSockets.signal(wake);
    }

    private void loop() {
        List<Pending> active = new ArrayList<>();
        while (!closed) {
            for (Pending next; (next = incoming.poll()) != null; ) {
                active.add(next);
            }
            int[] fds = new int[active.size() + 1];
            short[] events = new short[fds.length];
            fds[0] = wake;
            events[0] = LinuxSockets.POLL_IN;
            long now = System.nanoTime();
            long wait = Duration.ofSeconds(1).toNanos();
            for (int i = 0; i < active.size(); i++) {
                fds[i + 1] = active.get(i).fd();
                events[i + 1] = LinuxSockets.POLL_OUT;
                wait = Math.min(wait, Math.max(0, active.get(i).deadline() - now));
            }
            short[] ready;
            try {
                ready = LinuxSockets.poll(fds, events, Duration.ofNanos(wait).plusMillis(1));
            } catch (IOException e) {
                log.error("node agent: polling connections failed: {}", e.getMessage());
                ready = new short[fds.length];
            }
            if (ready[0] != 0) {
                LinuxSockets.drain(wake);
            }
            now = System.nanoTime();
            List<Pending> still = new ArrayList<>(active.size());
            for (int i = 0; i < active.size(); i++) {
                Pending pending = active.get(i);
                if ((ready[i + 1] & (LinuxSockets.POLL_OUT | LinuxSockets.POLL_ERR_HUP)) != 0) {
                    Optional<String> error;
                    try {
                        error = LinuxSockets.connectError(pending.fd(), pending.remote());
                    } catch (IOException e) {
                        error = Optional.of(e.getMessage());
                    }
                    end(pending, error);
                } else if (now - pending.deadline() >= 0) {
                    end(pending, Optional.of("connect(" + pending.remote() + "): timed out"));
                } else {
                    still.add(pending);
                }
            }
            active = still;
        }
        active.forEach(p -> end(p, Optional.of("the agent is closing")));
        for (Pending left; (left = incoming.poll()) != null; ) {
            end(left, Optional.of("the agent is closing"));
        }
    }

    private void end(Pending pending, Optional<String> outcome) {
        count.decrementAndGet();
        try {
            pending.done().accept(outcome);
        } catch (RuntimeException e) {
            log.error("node agent: ending a connect to {} failed", pending.remote(), e);
        }
    }

    @Override
    public void close() {
        closed = true;
        LinuxSockets.signal(wake);
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LinuxSockets.close(wake);
    }
}
