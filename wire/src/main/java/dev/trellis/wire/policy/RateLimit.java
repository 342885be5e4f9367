package dev.trellis.wire.policy;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.List;

/** {@code trellis.policy.v1.RateLimit}: requests per second for the whole server and per client identity (0: no limit), with overrides. */
public record RateLimit(int totalRps, int identityRps, List<Override> overrides) implements ProtoWriter.Writable {

    /** {@code trellis.policy.v1.RateLimitOverride}: another per-identity limit for these identities. */
    public record Override(List<String> identities, int rps) implements ProtoWriter.Writable {
        public Override {
            identities = List.copyOf(identities);
        }

        @java.lang.Override
        public void writeTo(ProtoWriter writer) {
            writer.writeStrings(1, identities).writeUInt32(2, rps);
        }
    }

    public RateLimit {
        overrides = List.copyOf(overrides);
    }

    public static RateLimit read(ProtoReader reader) throws ProtoException {
        int total = 0;
        int perIdentity = 0;
        List<Override> overrides = new ArrayList<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> total = reader.readUInt32();
                case 2 -> perIdentity = reader.readUInt32();
                case 3 -> {
                    ProtoReader override = reader.readMessage();
                    List<String> identities = new ArrayList<>();
                    int rps = 0;
                    while (override.next()) {
                        switch (override.field()) {
                            case 1 -> identities.add(override.readString());
                            case 2 -> rps = override.readUInt32();
                            default -> override.skip();
                        }
                    }
                    overrides.add(new Override(identities, rps));
                }
                default -> reader.skip();
            }
        }
        return new RateLimit(total, perIdentity, overrides);
    }

    @java.lang.Override
    public void writeTo(ProtoWriter writer) {
        writer.writeUInt32(1, totalRps).writeUInt32(2, identityRps).writeMessages(3, overrides);
    }
}
