package dev.trellis.wire.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code trellis.policy.v1.Authorization}: the networks a client may come from (any, when
 * none), how it must authenticate, and labels ({@code name} for logs and metrics).
 */
public record Authorization(List<Network> networks, Authentication authentication, Map<String, String> labels)
        implements ProtoWriter.Writable {

    /** The {@code oneof authentication}. */
    public sealed interface Authentication {
    }

    /** {@code unauthenticated}: any client, mesh or not. */
    public record Unauthenticated() implements Authentication {
    }

    /** {@code mesh_tls}: a mesh client with one of these identities, or matching one of these patterns, or any mesh client. */
    public record MeshTls(boolean any, List<String> identities, List<String> patterns) implements Authentication {
        public MeshTls {
            identities = List.copyOf(identities);
            patterns = List.copyOf(patterns);
        }
    }

    /** No case set (or one this proxy does not know): admits no one. */
    public record NotSet() implements Authentication {
    }

    /** {@code trellis.policy.v1.Network}: a CIDR, less the CIDRs in {@code except}. */
    public record Network(String cidr, List<String> except) implements ProtoWriter.Writable {
        public Network {
            requireNonNull(cidr, "cidr");
            except = List.copyOf(except);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeString(1, cidr).writeStrings(2, except);
        }
    }

    public Authorization {
        networks = List.copyOf(networks);
        requireNonNull(authentication, "authentication");
        labels = Map.copyOf(labels);
    }

    public String label(String key) {
        return labels.getOrDefault(key, "");
    }

    public static Authorization read(ProtoReader reader) throws ProtoException {
        List<Network> networks = new ArrayList<>();
        Authentication authentication = new NotSet();
        Map<String, String> labels = new LinkedHashMap<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> networks.add(readNetwork(reader.readMessage()));
                case 2 -> {
                    reader.readMessage();
                    authentication = new Unauthenticated();
                }
                case 3 -> authentication = readMeshTls(reader.readMessage());
                case 4 -> reader.readStringMapEntry(labels);
                default -> reader.skip();
            }
        }
        return new Authorization(networks, authentication, labels);
    }

    private static Network readNetwork(ProtoReader reader) throws ProtoException {
        String cidr = "";
        List<String> except = new ArrayList<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> cidr = reader.readString();
                case 2 -> except.add(reader.readString());
                default -> reader.skip();
            }
        }
        return new Network(cidr, except);
    }

    private static MeshTls readMeshTls(ProtoReader reader) throws ProtoException {
        boolean any = false;
        List<String> identities = new ArrayList<>();
        List<String> patterns = new ArrayList<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> any = reader.readBool();
                case 2 -> identities.add(reader.readString());
                case 3 -> patterns.add(reader.readString());
                default -> reader.skip();
            }
        }
        return new MeshTls(any, identities, patterns);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeMessages(1, networks);
        switch (authentication) {
            case Unauthenticated u -> writer.writeMessage(2, empty -> { });
            case MeshTls m -> writer.writeMessage(3, mesh -> mesh.writeBool(1, m.any()).writeStrings(2, m.identities()).writeStrings(3, m.patterns()));
            case NotSet n -> { }
        }
        writer.writeStringMap(4, labels);
    }
}
