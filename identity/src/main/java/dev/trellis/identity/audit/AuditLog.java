package dev.trellis.identity.audit;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Writes {@link AuditEvent}s as JSON lines, one per event, flushed as written so that a
 * crash loses nothing already decided. Fields hold only what the event holds; caller input
 * (the requested identity) is truncated to 256 characters. Thread-safe.
 */
public final class AuditLog implements AutoCloseable {

    static final int MAX_FIELD_LENGTH = 256;

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final OutputStream out;
    private final boolean closeStream;

    private AuditLog(OutputStream out, boolean closeStream) {
        this.out = requireNonNull(out, "out");
        this.closeStream = closeStream;
    }

    /** A log that writes to {@code out} and closes it when closed. */
    public static AuditLog to(OutputStream out) {
        return new AuditLog(out, true);
    }

    /** A log that writes to {@code out} and leaves it open (standard output). */
    public static AuditLog sharing(OutputStream out) {
        return new AuditLog(out, false);
    }

    public void record(AuditEvent event) {
        ObjectNode line = JSON.createObjectNode()
                .put("time", event.time().toString())
                .put("component", "identity")
                .put("event", "certify")
                .put("peer", event.peer())
                .put("requested_identity", truncate(event.requestedIdentity()))
                .put("authenticated_identity", event.authenticatedIdentity())
                .put("outcome", event.outcome())
                .put("reason", event.reason())
                .put("serial", event.serial())
                .put("not_after", event.notAfter() == null ? null : event.notAfter().toString());
        byte[] bytes = (JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8);
        synchronized (this) {
            try {
                out.write(bytes);
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("identity: cannot write the audit log: " + e.getMessage(), e);
            }
        }
    }

    private static String truncate(String value) {
        return value == null || value.length() <= MAX_FIELD_LENGTH ? value : value.substring(0, MAX_FIELD_LENGTH) + "…";
    }

    @Override
    public void close() throws IOException {
        if (closeStream) {
            out.close();
        } else {
            out.flush();
        }
    }
}
