package dev.trellis.wire.destination;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code trellis.destination.v1.Update}: its {@code oneof update}, one record per case. */
public sealed interface Update extends ProtoWriter.Writable {

    /** {@code add}: endpoints that now serve the authority, with labels for the whole set. */
    record Add(List<WeightedAddr> addrs, Map<String, String> metricLabels) implements Update {
        public Add {
            addrs = List.copyOf(addrs);
            metricLabels = Map.copyOf(metricLabels);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeMessage(1, set -> set.writeMessages(1, addrs).writeStringMap(2, metricLabels));
        }
    }

    /** {@code remove}: endpoints that no longer do. */
    record Remove(List<TcpAddress> addrs) implements Update {
        public Remove {
            addrs = List.copyOf(addrs);
        }

        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeMessage(2, set -> set.writeMessages(1, addrs));
        }
    }

    /** {@code no_endpoints}: none at all; {@code exists} says whether the authority is known. */
    record NoEndpoints(boolean exists) implements Update {
        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeMessage(3, none -> none.writeBool(1, exists));
        }
    }

    /** No case set (a newer server's case, or none): callers ignore it. */
    record Empty() implements Update {
        @Override
        public void writeTo(ProtoWriter writer) {
        }
    }

    static Update read(ProtoReader reader) throws ProtoException {
        Update update = new Empty();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> update = readAdd(reader.readMessage());
                case 2 -> update = readRemove(reader.readMessage());
                case 3 -> {
                    ProtoReader none = reader.readMessage();
                    boolean exists = false;
                    while (none.next()) {
                        if (none.field() == 1) {
                            exists = none.readBool();
                        } else {
                            none.skip();
                        }
                    }
                    update = new NoEndpoints(exists);
                }
                default -> reader.skip();
            }
        }
        return update;
    }

    private static Add readAdd(ProtoReader set) throws ProtoException {
        List<WeightedAddr> addrs = new ArrayList<>();
        Map<String, String> labels = new LinkedHashMap<>();
        while (set.next()) {
            switch (set.field()) {
                case 1 -> addrs.add(WeightedAddr.read(set.readMessage()));
                case 2 -> set.readStringMapEntry(labels);
                default -> set.skip();
            }
        }
        return new Add(addrs, labels);
    }

    private static Remove readRemove(ProtoReader set) throws ProtoException {
        List<TcpAddress> addrs = new ArrayList<>();
        while (set.next()) {
            if (set.field() == 1) {
                addrs.add(TcpAddress.read(set.readMessage()));
            } else {
                set.skip();
            }
        }
        return new Remove(addrs);
    }
}
