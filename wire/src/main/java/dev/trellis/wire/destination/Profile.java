package dev.trellis.wire.destination;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.List;

/** {@code trellis.destination.v1.Profile}, the part the proxy uses: the routes, in order (the first match wins). */
public record Profile(List<Route> routes) implements ProtoWriter.Writable {

    public Profile {
        routes = List.copyOf(routes);
    }

    public static Profile read(ProtoReader reader) throws ProtoException {
        List<Route> routes = new ArrayList<>();
        while (reader.next()) {
            if (reader.field() == 2) {
                routes.add(Route.read(reader.readMessage()));
            } else {
                reader.skip();
            }
        }
        return new Profile(routes);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeMessages(2, routes);
    }
}
