package dev.trellis.wire.destination;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code trellis.destination.v1.Profile}, the parts the proxy uses: the routes, in order (the
 * first match wins), and where opaque connections go by weight.
 */
public record Profile(List<Route> routes, List<Route.Backend> opaqueBackends) implements ProtoWriter.Writable {

    public Profile {
        routes = List.copyOf(routes);
        opaqueBackends = List.copyOf(opaqueBackends);
    }

    public Profile(List<Route> routes) {
        this(routes, List.of());
    }

    public static Profile read(ProtoReader reader) throws ProtoException {
        List<Route> routes = new ArrayList<>();
        List<Route.Backend> opaque = new ArrayList<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 2 -> routes.add(Route.read(reader.readMessage()));
                case 6 -> opaque.add(Route.Backend.read(reader.readMessage()));
                default -> reader.skip();
            }
        }
        return new Profile(routes, opaque);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeMessages(2, routes).writeMessages(6, opaqueBackends);
    }
}
