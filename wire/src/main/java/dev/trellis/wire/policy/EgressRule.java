package dev.trellis.wire.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code trellis.policy.v1.EgressRule}: a host (name or wildcard pattern) or a CIDR — its
 * {@code oneof destination}, with {@code kind} saying which — and the ports it covers (all,
 * when none).
 */
public record EgressRule(Kind kind, String destination, List<Integer> ports) implements ProtoWriter.Writable {

    /** Which case of the {@code oneof} is set. */
    public enum Kind { HOST, CIDR, NOT_SET }

    public EgressRule {
        requireNonNull(kind, "kind");
        requireNonNull(destination, "destination");
        ports = List.copyOf(ports);
    }

    public static EgressRule host(String host, List<Integer> ports) {
        return new EgressRule(Kind.HOST, host, ports);
    }

    public static EgressRule cidr(String cidr, List<Integer> ports) {
        return new EgressRule(Kind.CIDR, cidr, ports);
    }

    public static EgressRule read(ProtoReader reader) throws ProtoException {
        Kind kind = Kind.NOT_SET;
        String destination = "";
        List<Integer> ports = new ArrayList<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> {
                    kind = Kind.HOST;
                    destination = reader.readString();
                }
                case 2 -> {
                    kind = Kind.CIDR;
                    destination = reader.readString();
                }
                case 3 -> reader.readRepeatedUInt32(ports::add);
                default -> reader.skip();
            }
        }
        return new EgressRule(kind, destination, ports);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        switch (kind) {
            case HOST -> writer.writeOneofString(1, destination);
            case CIDR -> writer.writeOneofString(2, destination);
            case NOT_SET -> { }
        }
        writer.writePackedUInt32(3, ports);
    }
}
