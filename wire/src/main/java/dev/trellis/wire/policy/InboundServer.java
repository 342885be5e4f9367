package dev.trellis.wire.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code trellis.policy.v1.InboundServer}: the policy of one inbound port — its protocol, who
 * may call it, its rate limit, labels ({@code name}, {@code mode}) and per-route authorizations.
 */
public record InboundServer(Protocol protocol, List<Authorization> authorizations, Optional<RateLimit> rateLimit, Map<String, String> labels,
                            List<HttpRoute> routes) implements ProtoWriter.Writable {

    /** {@code InboundServer.Protocol}; a number this proxy does not know is {@code UNRECOGNIZED}. */
    public enum Protocol { DETECT, HTTP1, HTTP2, GRPC, OPAQUE, UNRECOGNIZED }

    public InboundServer {
        requireNonNull(protocol, "protocol");
        authorizations = List.copyOf(authorizations);
        requireNonNull(rateLimit, "rateLimit");
        labels = Map.copyOf(labels);
        routes = List.copyOf(routes);
    }

    public String label(String key) {
        return labels.getOrDefault(key, "");
    }

    public static InboundServer read(ProtoReader reader) throws ProtoException {
        Protocol protocol = Protocol.DETECT;
        List<Authorization> authorizations = new ArrayList<>();
        Optional<RateLimit> rateLimit = Optional.empty();
        Map<String, String> labels = new LinkedHashMap<>();
        List<HttpRoute> routes = new ArrayList<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> {
                    int number = reader.readEnum();
                    protocol = number >= 0 && number < Protocol.UNRECOGNIZED.ordinal() ? Protocol.values()[number] : Protocol.UNRECOGNIZED;
                }
                case 2 -> authorizations.add(Authorization.read(reader.readMessage()));
                case 3 -> rateLimit = Optional.of(RateLimit.read(reader.readMessage()));
                case 4 -> reader.readStringMapEntry(labels);
                case 5 -> routes.add(HttpRoute.read(reader.readMessage()));
                default -> reader.skip();
            }
        }
        return new InboundServer(protocol, authorizations, rateLimit, labels, routes);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        if (protocol == Protocol.UNRECOGNIZED) {
            throw new IllegalStateException("policy: an UNRECOGNIZED protocol cannot be written");
        }
        writer.writeInt32(1, protocol.ordinal()).writeMessages(2, authorizations).writeMessage(3, rateLimit.orElse(null))
                .writeStringMap(4, labels).writeMessages(5, routes);
    }
}
