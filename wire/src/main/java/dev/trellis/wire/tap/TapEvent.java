package dev.trellis.wire.tap;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * {@code trellis.tap.v1.TapEvent}, as the proxy writes it: one step of one tapped request
 * ({@link RequestInit}, {@link ResponseInit} or {@link ResponseEnd}, its {@code oneof event}),
 * with the request's direction, peers and stream id.
 */
public record TapEvent(Direction direction, Instant time, Peer source, Peer destination, Event event, long streamId)
        implements ProtoWriter.Writable {

    /** {@code TapEvent.Direction}, numbered as in the proto. */
    public enum Direction { UNKNOWN, INBOUND, OUTBOUND }

    /** {@code trellis.tap.v1.Peer}. */
    public record Peer(String address, String identity, Map<String, String> labels) implements ProtoWriter.Writable {
        public Peer {
            requireNonNull(address, "address");
            requireNonNull(identity, "identity");
            labels = Map.copyOf(labels);
        }

        public Peer(String address, String identity) {
            this(address, identity, Map.of());
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, address).writeString(2, identity).writeStringMap(3, labels);
        }
    }

    /** The {@code oneof event}. */
    public sealed interface Event {
        void writeTo(ProtoWriter writer);
    }

    /** {@code trellis.tap.v1.RequestInit}. */
    public record RequestInit(String method, String scheme, String authority, String path) implements Event {
        public RequestInit {
            requireNonNull(method, "method");
            requireNonNull(scheme, "scheme");
            requireNonNull(authority, "authority");
            requireNonNull(path, "path");
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeMessage(5, init -> init.writeString(1, method).writeString(2, scheme).writeString(3, authority).writeString(4, path));
        }
    }

    /** {@code trellis.tap.v1.ResponseInit}. */
    public record ResponseInit(int status, Duration sinceRequestInit) implements Event {
        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeMessage(6, init -> init.writeUInt32(1, status).writeDuration(2, sinceRequestInit));
        }
    }

    /** {@code trellis.tap.v1.ResponseEnd}; {@code grpcStatus} 0 and {@code error} empty when there is none. */
    public record ResponseEnd(int grpcStatus, Duration sinceRequestInit, long responseBytes, String error) implements Event {
        public ResponseEnd {
            requireNonNull(error, "error");
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeMessage(7, end -> end.writeInt32(1, grpcStatus).writeDuration(2, sinceRequestInit).writeUInt64(3, responseBytes)
                    .writeString(4, error));
        }
    }

    public TapEvent {
        requireNonNull(direction, "direction");
        requireNonNull(time, "time");
        requireNonNull(source, "source");
        requireNonNull(destination, "destination");
        requireNonNull(event, "event");
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeInt32(1, direction.ordinal()).writeTimestamp(2, time).writeMessage(3, source).writeMessage(4, destination);
        event.writeTo(writer);
        writer.writeUInt64(8, streamId);
    }
}
