package dev.trellis.wire.destination;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;

/** {@code trellis.destination.v1.GetDestination}: the authority to resolve, and the caller's namespace for short names. */
public record GetDestination(String authority, String contextNamespace) implements ProtoWriter.Writable {

    public GetDestination {
        requireNonNull(authority, "authority");
        requireNonNull(contextNamespace, "contextNamespace");
    }

    public static GetDestination read(ProtoReader reader) throws ProtoException {
        String authority = "";
        String namespace = "";
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> authority = reader.readString();
                case 2 -> namespace = reader.readString();
                default -> reader.skip();
            }
        }
        return new GetDestination(authority, namespace);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeString(1, authority).writeString(2, contextNamespace);
    }
}
