package dev.trellis.wire.tap;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;

/** {@code trellis.tap.v1.ObserveRequest}: which requests to stream, and how many (0: the server's default). */
public record ObserveRequest(Match match, int limit) implements ProtoWriter.Writable {

    /** {@code trellis.tap.v1.Match}: every non-empty (non-zero) field must match. */
    public record Match(String authority, String pathPrefix, String method, String sourceIdentity, String destinationIdentity,
                        int destinationPort) implements ProtoWriter.Writable {

        public static final Match ANY = new Match("", "", "", "", "", 0);

        public Match {
            requireNonNull(authority, "authority");
            requireNonNull(pathPrefix, "pathPrefix");
            requireNonNull(method, "method");
            requireNonNull(sourceIdentity, "sourceIdentity");
            requireNonNull(destinationIdentity, "destinationIdentity");
        }

        static Match read(ProtoReader reader) throws ProtoException {
            String authority = "";
            String prefix = "";
            String method = "";
            String source = "";
            String destination = "";
            int port = 0;
            while (reader.next()) {
                switch (reader.field()) {
                    case 1 -> authority = reader.readString();
                    case 2 -> prefix = reader.readString();
                    case 3 -> method = reader.readString();
                    case 4 -> source = reader.readString();
                    case 5 -> destination = reader.readString();
                    case 6 -> port = reader.readUInt32();
                    default -> reader.skip();
                }
            }
            return new Match(authority, prefix, method, source, destination, port);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, authority).writeString(2, pathPrefix).writeString(3, method).writeString(4, sourceIdentity)
                    .writeString(5, destinationIdentity).writeUInt32(6, destinationPort);
        }
    }

    public ObserveRequest {
        requireNonNull(match, "match");
    }

    public static ObserveRequest read(ProtoReader reader) throws ProtoException {
        Match match = Match.ANY;
        int limit = 0;
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> match = Match.read(reader.readMessage());
                case 2 -> limit = reader.readUInt32();
                default -> reader.skip();
            }
        }
        return new ObserveRequest(match, limit);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeMessage(1, match).writeUInt32(2, limit);
    }
}
