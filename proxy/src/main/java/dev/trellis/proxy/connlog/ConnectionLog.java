package dev.trellis.proxy.connlog;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import io.netty.channel.Channel;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON line per outbound connection, one per refused request or connection, inbound or
 * outbound (threat-model finding 14): who connected, where to, under which name (the
 * authority, and the host the app named: TLS SNI or HTTP Host), over what, how many bytes
 * each way, for how long, and the decision with its reason. The {@code decision} is
 * {@code allowed}, a {@link ProxyError#label}, an egress decision, or {@code client_closed}
 * for a client that left before the proxy decided. Thread-safe; a failing sink is logged,
 * never fatal.
 *
 * <p>Lines are written by a thread of their own, several per system call when they come
 * faster than one at a time: the event loops only queue them. A sink that stalls (a full
 * pipe to a slow log reader) therefore cannot stall the proxy; once {@value #QUEUED_LINES}
 * lines wait, further ones are dropped, counted ({@link #dropped}, exported as
 * {@code connection_log_dropped_total}) and warned about, never silently. {@link #close}
 * writes what is queued.
 */
public final class ConnectionLog implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ConnectionLog.class);
    private static final int MAX_FIELD = 512;
    static final int QUEUED_LINES = 4096;
    private static final int LINES_PER_WRITE = 256;
    private static final byte[] END = new byte[0];

    /** What a line is about. */
    public enum Event {
        /** An outbound connection, written when it closes or is refused. */
        OUTBOUND_CONNECTION,
        /** One request on an HTTP connection that the proxy refused or failed itself. */
        OUTBOUND_REQUEST,
        /** An inbound connection or request refused before it reached the app. */
        INBOUND_REFUSAL;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** One line. Strings may be null (written as JSON null). */
    public record Entry(Event event, Instant start, String sourceIdentity, String source, String destination, String authority, String host,
                        String protocol, boolean tls, String serverIdentity, long bytesSent, long bytesReceived, Duration duration,
                        String decision, String reason) {
        public Entry {
            requireNonNull(event, "event");
            requireNonNull(start, "start");
            requireNonNull(duration, "duration");
            requireNonNull(decision, "decision");
        }
    }

    private final OutputStream out;
    private final BlockingQueue<byte[]> queue;
    private final Thread writer;
    private final AtomicLong dropped = new AtomicLong();
    private volatile boolean closed;

    /** Writes to {@code out} from a thread of its own, started here; {@link #close} stops it. */
    public ConnectionLog(OutputStream out) {
        this(out, QUEUED_LINES);
    }

    ConnectionLog(OutputStream out, int queuedLines) {
        this.out = requireNonNull(out, "out");
        this.queue = new ArrayBlockingQueue<>(queuedLines);
        this.writer = Thread.ofPlatform().daemon().name("trellis-connection-log").start(this::writeLines);
    }

    /** Lines dropped because the sink fell {@value #QUEUED_LINES} lines behind (or came after {@link #close}). */
    public long dropped() {
        return dropped.get();
    }

    public void record(Entry entry) {
        StringBuilder line = new StringBuilder(320).append('{');
        field(line, "time", entry.start().toString()).append(',');
        field(line, "event", entry.event().label()).append(',');
        field(line, "source_identity", entry.sourceIdentity()).append(',');
        field(line, "source", entry.source()).append(',');
        field(line, "destination", entry.destination()).append(',');
        field(line, "authority", entry.authority()).append(',');
        field(line, "host", entry.host()).append(',');
        field(line, "protocol", entry.protocol()).append(',');
        line.append("\"tls\":").append(entry.tls()).append(',');
        field(line, "server_identity", entry.serverIdentity()).append(',');
        line.append("\"bytes_sent\":").append(entry.bytesSent()).append(',');
        line.append("\"bytes_received\":").append(entry.bytesReceived()).append(',');
        line.append("\"duration_ms\":").append(entry.duration().toMillis()).append(',');
        field(line, "decision", entry.decision()).append(',');
        field(line, "reason", entry.reason());
        line.append("}\n");
        byte[] bytes = line.toString().getBytes(StandardCharsets.UTF_8);
        if (closed || !queue.offer(bytes)) {
            long count = dropped.incrementAndGet();
            if (count == 1 || count % 1000 == 0) {
                log.warn("proxy: the connection log's sink is {} lines behind: {} line(s) dropped so far (connection_log_dropped_total)",
                        QUEUED_LINES, count);
            }
        }
    }

    /** The writer thread: takes what is queued, up to {@value #LINES_PER_WRITE} lines a write, until {@link #close}. */
    private void writeLines() {
        List<byte[]> batch = new ArrayList<>(LINES_PER_WRITE);
        boolean ending = false;
        while (!ending) {
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                break;
            }
            queue.drainTo(batch, LINES_PER_WRITE - 1);
            ending = batch.remove(END);
            write(batch);
        }
        queue.drainTo(batch);
        batch.remove(END);
        write(batch);
    }

    private void write(List<byte[]> batch) {
        if (batch.isEmpty()) {
            return;
        }
        // One write for the batch: the sink may be unbuffered (a file), and a write is a system call.
        byte[] lines = batch.getFirst();
        if (batch.size() > 1) {
            int length = 0;
            for (byte[] line : batch) {
                length += line.length;
            }
            lines = new byte[length];
            int at = 0;
            for (byte[] line : batch) {
                System.arraycopy(line, 0, lines, at, line.length);
                at += line.length;
            }
        }
        try {
            out.write(lines);
            out.flush();
        } catch (IOException e) {
            log.warn("proxy: cannot write the connection log: {}", e.toString());
        }
        batch.clear();
    }

    /** Writes what is queued (waiting up to two seconds for a slow sink) and stops the writer; later lines are dropped. */
    @Override
    public void close() {
        closed = true;
        try {
            if (queue.offer(END, 2, TimeUnit.SECONDS)) {
                writer.join(Duration.ofSeconds(2));
            } else {
                writer.interrupt();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Starts the line of outbound connection {@code client}, accepted at {@code start}: it is
     * written exactly once — when {@link OutboundConnection#refuse} is called, when the client
     * closes after {@link OutboundConnection#carried}, or as {@code client_closed} when the
     * client closes before either.
     */
    public OutboundConnection outbound(Channel client, Instant start, String sourceIdentity, String protocol, Optional<String> authority,
                                       Optional<String> host) {
        OutboundConnection connection = new OutboundConnection(start, sourceIdentity, addressOf(client), protocol, authority.orElse(null), host.orElse(null));
        client.closeFuture().addListener(closed -> connection.closed());
        return connection;
    }

    /** Records an inbound refusal: {@code client} (a verified identity, or null) from {@code source} was refused {@code target} for {@code error}. */
    public void inboundRefusal(Instant start, String clientIdentity, String source, String target, String protocol, boolean tls, ProxyError error,
                               String reason) {
        record(new Entry(Event.INBOUND_REFUSAL, start, clientIdentity, source, target, null, null, protocol, tls, null, 0, 0,
                Duration.between(start, Instant.now()), error.label(), reason));
    }

    /** The peer address of {@code channel} (its parent's, for an HTTP/2 stream) as text, or null. */
    public static String addressOf(Channel channel) {
        Channel connection = channel instanceof io.netty.handler.codec.http2.Http2StreamChannel ? channel.parent() : channel;
        return connection.remoteAddress() == null ? null : connection.remoteAddress().toString();
    }

    /** One outbound connection's line, written once. Its methods run on the connection's event loop. */
    public final class OutboundConnection {
        private final Instant start;
        private final String sourceIdentity;
        private final String source;
        private final String authority;
        private String protocol;
        private String host;
        private String destination;
        private boolean tls;
        private String serverIdentity;
        private LongSupplier sent = () -> 0;
        private LongSupplier received = () -> 0;
        private String decision;
        private String reason;
        private boolean written;

        private OutboundConnection(Instant start, String sourceIdentity, String source, String protocol, String authority, String host) {
            this.start = start;
            this.sourceIdentity = sourceIdentity;
            this.source = source;
            this.protocol = protocol;
            this.authority = authority;
            this.host = host;
        }

        /** What detection learnt after the line was started. */
        public OutboundConnection seen(String protocol, Optional<String> host) {
            this.protocol = protocol;
            this.host = host.orElse(this.host);
            return this;
        }

        /** The proxy refused or could not carry the connection: the line is written now. */
        public void refuse(ProxyError error, Optional<String> destination, String reason) {
            this.destination = destination.orElse(this.destination);
            this.decision = error.label();
            this.reason = reason;
            write();
        }

        /**
         * The connection is carried to {@code destination} (over mTLS to {@code serverIdentity},
         * or plain when null) under {@code decision}: the line is written when it closes, with
         * the bytes counted then.
         */
        public void carried(String destination, String serverIdentity, boolean tls, LongSupplier sent, LongSupplier received, String decision) {
            this.destination = destination;
            this.serverIdentity = serverIdentity;
            this.tls = tls;
            this.sent = sent;
            this.received = received;
            this.decision = decision;
        }

        /** Decision and reason as the connection closes, when something decided per request (HTTP). */
        public void decide(String decision, String reason) {
            this.decision = decision;
            this.reason = reason;
        }

        private void closed() {
            if (decision == null) {
                decision = "client_closed";
                reason = "the client closed the connection before the proxy carried it";
            }
            write();
        }

        private void write() {
            if (written) {
                return;
            }
            written = true;
            record(new Entry(Event.OUTBOUND_CONNECTION, start, sourceIdentity, source, destination, authority, host, protocol, tls, serverIdentity,
                    sent.getAsLong(), received.getAsLong(), Duration.between(start, Instant.now()), decision, reason));
        }
    }

    private static StringBuilder field(StringBuilder line, String name, String value) {
        line.append('"').append(name).append("\":");
        if (value == null) {
            return line.append("null");
        }
        line.append('"');
        for (int i = 0; i < value.length() && i < MAX_FIELD; i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> line.append("\\\"");
                case '\\' -> line.append("\\\\");
                default -> {
                    if (c < 0x20 || c == 0x7f || Character.isSurrogate(c)) {
                        line.append(String.format("\\u%04x", (int) c));
                    } else {
                        line.append(c);
                    }
                }
            }
        }
        return line.append('"');
    }
}
