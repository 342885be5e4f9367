package dev.trellis.wire.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;

/** {@code trellis.policy.v1.InboundPort}: one port of a workload, whose inbound policy is watched. */
public record InboundPort(Workload workload, int port) implements ProtoWriter.Writable {

    public InboundPort {
        requireNonNull(workload, "workload");
    }

    public static InboundPort read(ProtoReader reader) throws ProtoException {
        Workload workload = new Workload("", "");
        int port = 0;
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> workload = Workload.read(reader.readMessage());
                case 2 -> port = reader.readUInt32();
                default -> reader.skip();
            }
        }
        return new InboundPort(workload, port);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeMessage(1, workload).writeUInt32(2, port);
    }
}
