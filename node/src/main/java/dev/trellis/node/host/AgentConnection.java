package dev.trellis.node.host;

import dev.trellis.node.handoff.HandoffChannel;
import dev.trellis.node.handoff.HandoffMessage;
import dev.trellis.node.handoff.HandoffMessage.PodRef;
import dev.trellis.node.handoff.LinuxSockets;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node proxy's end of the agent's Unix socket: pods to serve and forget come in (to
 * {@link Pods}, on the reading thread), connections asked for go out and come back as
 * descriptors. A descriptor answering a request that already timed out is closed.
 * Thread-safe.
 */
final class AgentConnection implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AgentConnection.class);

    /** Where the agent's announcements go. */
    interface Pods {
        /** Serve {@code pod} with these listening sockets (the receiver owns them). */
        void serve(PodRef pod, Map<HandoffMessage.Listener, Integer> listeners);

        void forget(String uid);

        /** The agent went away: every pod's sockets are gone with it. */
        void lost(String why);
    }

    private final HandoffChannel channel;
    private final Pods pods;
    private final AtomicLong ids = new AtomicLong();
    private final Map<Long, Promise<Integer>> pending = new ConcurrentHashMap<>();
    private final Thread reader;
    private volatile boolean closed;

    private AgentConnection(HandoffChannel channel, Pods pods) {
        this.channel = channel;
        this.pods = pods;
        this.reader = new Thread(this::readLoop, "trellis-node-agent-link");
        reader.setDaemon(true);
    }

    static AgentConnection open(Path socket, Pods pods) throws IOException {
        AgentConnection connection = new AgentConnection(new HandoffChannel(LinuxSockets.unixConnect(socket)), pods);
        connection.reader.start();
        return connection;
    }

    /**
     * A socket connected to {@code remote} from inside pod {@code uid}, made by the agent; fails
     * with the agent's reason, or after {@code timeout}. Completes on {@code executor}.
     */
    Future<Integer> connect(String uid, InetSocketAddress remote, Duration timeout, EventExecutor executor) {
        Promise<Integer> connected = executor.newPromise();
        long id = ids.incrementAndGet();
        pending.put(id, connected);
        executor.schedule(() -> {
            if (pending.remove(id) != null) {
                connected.tryFailure(new IOException("node agent: no answer within " + timeout.toMillis() + " ms"));
            }
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        try {
            channel.send(new HandoffMessage.Connect(id, uid, remote), List.of());
        } catch (IOException e) {
            pending.remove(id);
            connected.tryFailure(new IOException("node agent: cannot ask: " + e.getMessage(), e));
        }
        return connected;
    }

    private void readLoop() {
        String why = "the agent closed the connection";
        try {
            while (!closed) {
                HandoffChannel.Envelope envelope = channel.receive();
                if (envelope == null) {
                    break;
                }
                switch (envelope.message()) {
                    case HandoffMessage.Serve serve -> {
                        Map<HandoffMessage.Listener, Integer> listeners = new EnumMap<>(HandoffMessage.Listener.class);
                        for (HandoffMessage.Listener role : HandoffMessage.Listener.values()) {
                            listeners.put(role, envelope.fds().get(role.ordinal()));
                        }
                        pods.serve(serve.pod(), listeners);
                    }
                    case HandoffMessage.Forget forget -> pods.forget(forget.uid());
                    case HandoffMessage.Connected connected -> answer(connected.id(), envelope.fds().get(0), null);
                    case HandoffMessage.ConnectFailed failed -> answer(failed.id(), -1, failed.reason());
                    case HandoffMessage.Connect connect -> log.warn("node proxy: ignored a connect request from the agent");
                }
            }
        } catch (IOException e) {
            why = e.getMessage();
        } catch (RuntimeException e) {
            why = "a message could not be handled: " + e;
            log.error("node proxy: agent link failed", e);
        }
        // Told before the link counts as closed: the node proxy reconnects only after it has queued the pods' stops,
        // so a new session's pods are never stopped by the old session's end.
        pods.lost(why);
        closed = true;
        channel.close();
        pending.values().forEach(p -> p.tryFailure(new IOException("node agent: connection lost")));
        pending.clear();
    }

    private void answer(long id, int fd, String failure) {
        Promise<Integer> waiting = pending.remove(id);
        if (waiting == null || (failure == null && !waiting.trySuccess(fd))) {
            LinuxSockets.close(fd);
            return;
        }
        if (failure != null) {
            waiting.tryFailure(new IOException(failure));
        }
    }

    boolean isOpen() {
        return !closed;
    }

    @Override
    public void close() {
        closed = true;
        channel.close();
    }
}
