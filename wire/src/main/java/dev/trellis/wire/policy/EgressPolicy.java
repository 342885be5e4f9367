package dev.trellis.wire.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code trellis.policy.v1.EgressPolicy}: where a workload may connect — the mode, allow and
 * deny rules, labels, and how long a last answer may be kept when the stream breaks.
 */
public record EgressPolicy(Mode mode, List<EgressRule> allow, List<EgressRule> deny, Map<String, String> labels, Optional<Duration> staleAfter)
        implements ProtoWriter.Writable {

    /** {@code EgressPolicy.Mode}; a number this proxy does not know is {@code UNRECOGNIZED} (and refuses everything). */
    public enum Mode { ALLOW, DENY, AUDIT, UNRECOGNIZED }

    public EgressPolicy {
        requireNonNull(mode, "mode");
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
        labels = Map.copyOf(labels);
        requireNonNull(staleAfter, "staleAfter");
    }

    public String label(String key) {
        return labels.getOrDefault(key, "");
    }

    public static EgressPolicy read(ProtoReader reader) throws ProtoException {
        Mode mode = Mode.ALLOW;
        List<EgressRule> allow = new ArrayList<>();
        List<EgressRule> deny = new ArrayList<>();
        Map<String, String> labels = new LinkedHashMap<>();
        Optional<Duration> staleAfter = Optional.empty();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> {
                    int number = reader.readEnum();
                    mode = number >= 0 && number < Mode.UNRECOGNIZED.ordinal() ? Mode.values()[number] : Mode.UNRECOGNIZED;
                }
                case 2 -> allow.add(EgressRule.read(reader.readMessage()));
                case 3 -> deny.add(EgressRule.read(reader.readMessage()));
                case 4 -> reader.readStringMapEntry(labels);
                case 5 -> staleAfter = Optional.of(reader.readDuration());
                default -> reader.skip();
            }
        }
        return new EgressPolicy(mode, allow, deny, labels, staleAfter);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        if (mode == Mode.UNRECOGNIZED) {
            throw new IllegalStateException("policy: an UNRECOGNIZED mode cannot be written");
        }
        writer.writeInt32(1, mode.ordinal()).writeMessages(2, allow).writeMessages(3, deny).writeStringMap(4, labels)
                .writeDuration(5, staleAfter.orElse(null));
    }
}
