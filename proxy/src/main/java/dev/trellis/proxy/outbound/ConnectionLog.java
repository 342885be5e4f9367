package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON line per outbound connection when it ends (threat-model finding 14): who
 * connected, where to, under which name (the authority, and the host the app named: TLS SNI
 * or HTTP Host, when the proxy saw one), over what, how many bytes each way, for how long,
 * and what the proxy decided. Thread-safe; a failing sink is logged, never fatal.
 */
public final class ConnectionLog {

    private static final Logger log = LoggerFactory.getLogger(ConnectionLog.class);

    /** One outbound connection's record. */
    public record Entry(Instant start, String sourceIdentity, String destination, String authority, String host, String protocol,
                        boolean tls, String serverIdentity, long bytesSent, long bytesReceived, Duration duration, String decision) {}

    private final OutputStream out;

    public ConnectionLog(OutputStream out) {
        this.out = requireNonNull(out, "out");
    }

    public void record(Entry entry) {
        StringBuilder line = new StringBuilder(256).append('{');
        field(line, "time", entry.start().toString()).append(',');
        field(line, "event", "outbound_connection").append(',');
        field(line, "source_identity", entry.sourceIdentity()).append(',');
        field(line, "destination", entry.destination()).append(',');
        field(line, "authority", entry.authority()).append(',');
        field(line, "host", entry.host()).append(',');
        field(line, "protocol", entry.protocol()).append(',');
        line.append("\"tls\":").append(entry.tls()).append(',');
        field(line, "server_identity", entry.serverIdentity()).append(',');
        line.append("\"bytes_sent\":").append(entry.bytesSent()).append(',');
        line.append("\"bytes_received\":").append(entry.bytesReceived()).append(',');
        line.append("\"duration_ms\":").append(entry.duration().toMillis()).append(',');
        field(line, "decision", entry.decision());
        line.append("}\n");
        byte[] bytes = line.toString().getBytes(StandardCharsets.UTF_8);
        synchronized (this) {
            try {
                out.write(bytes);
                out.flush();
            } catch (IOException e) {
                log.warn("proxy: cannot write the connection log: {}", e.toString());
            }
        }
    }

    private static StringBuilder field(StringBuilder line, String name, String value) {
        line.append('"').append(name).append("\":");
        if (value == null) {
            return line.append("null");
        }
        line.append('"');
        for (int i = 0; i < value.length() && i < 512; i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> line.append("\\\"");
                case '\\' -> line.append("\\\\");
                default -> {
                    if (c < 0x20) {
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
