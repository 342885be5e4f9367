package dev.trellis.wire.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.List;

/** {@code trellis.policy.v1.HttpRoute}: requests matching any of {@code matches} are authorized by this route's own authorizations. */
public record HttpRoute(String name, List<Match> matches, List<Authorization> authorizations) implements ProtoWriter.Writable {

    /** {@code trellis.policy.v1.HttpRouteMatch}: an exact path or a path prefix (neither: any path), and a method (empty: any). */
    public record Match(String pathExact, String pathPrefix, String method) implements ProtoWriter.Writable {
        public Match {
            requireNonNull(pathExact, "pathExact");
            requireNonNull(pathPrefix, "pathPrefix");
            requireNonNull(method, "method");
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, pathExact).writeString(2, pathPrefix).writeString(3, method);
        }
    }

    public HttpRoute {
        requireNonNull(name, "name");
        matches = List.copyOf(matches);
        authorizations = List.copyOf(authorizations);
    }

    public static HttpRoute read(ProtoReader reader) throws ProtoException {
        String name = "";
        List<Match> matches = new ArrayList<>();
        List<Authorization> authorizations = new ArrayList<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> name = reader.readString();
                case 2 -> {
                    ProtoReader match = reader.readMessage();
                    String exact = "";
                    String prefix = "";
                    String method = "";
                    while (match.next()) {
                        switch (match.field()) {
                            case 1 -> exact = match.readString();
                            case 2 -> prefix = match.readString();
                            case 3 -> method = match.readString();
                            default -> match.skip();
                        }
                    }
                    matches.add(new Match(exact, prefix, method));
                }
                case 3 -> authorizations.add(Authorization.read(reader.readMessage()));
                default -> reader.skip();
            }
        }
        return new HttpRoute(name, matches, authorizations);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeString(1, name).writeMessages(2, matches).writeMessages(3, authorizations);
    }
}
