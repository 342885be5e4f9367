package dev.trellis.wire.destination;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.time.Duration;
import java.util.Optional;

/**
 * {@code trellis.destination.v1.Route}, the parts the proxy uses: its name, its condition
 * ({@code RequestMatch}: exact path or path regex, and method), whether it may be retried, and
 * its timeout when one is set. Response classes are not read.
 */
public record Route(String name, String path, String pathRegex, String method, boolean retryable, Optional<Duration> timeout)
        implements ProtoWriter.Writable {

    public Route {
        requireNonNull(name, "name");
        requireNonNull(path, "path");
        requireNonNull(pathRegex, "pathRegex");
        requireNonNull(method, "method");
        requireNonNull(timeout, "timeout");
    }

    public static Route read(ProtoReader reader) throws ProtoException {
        String name = "";
        String path = "";
        String regex = "";
        String method = "";
        boolean retryable = false;
        Optional<Duration> timeout = Optional.empty();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> name = reader.readString();
                case 2 -> {
                    ProtoReader condition = reader.readMessage();
                    while (condition.next()) {
                        switch (condition.field()) {
                            case 1 -> path = condition.readString();
                            case 2 -> regex = condition.readString();
                            case 3 -> method = condition.readString();
                            default -> condition.skip();
                        }
                    }
                }
                case 3 -> retryable = reader.readBool();
                case 4 -> timeout = Optional.of(reader.readDuration());
                default -> reader.skip();
            }
        }
        return new Route(name, path, regex, method, retryable, timeout);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeString(1, name)
                .writeMessage(2, condition -> condition.writeString(1, path).writeString(2, pathRegex).writeString(3, method))
                .writeBool(3, retryable)
                .writeDuration(4, timeout.orElse(null));
    }
}
