package dev.trellis.wire.policy;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.List;

/** {@code trellis.policy.v1.WorkloadPorts}: the ports a workload declares, and whether each listens on loopback only. */
public record WorkloadPorts(List<DeclaredPort> ports) implements ProtoWriter.Writable {

    /** {@code trellis.policy.v1.DeclaredPort}. */
    public record DeclaredPort(int port, boolean loopback) implements ProtoWriter.Writable {
        @Override
        public void writeTo(ProtoWriter writer) {
            writer.writeUInt32(1, port).writeBool(2, loopback);
        }
    }

    public WorkloadPorts {
        ports = List.copyOf(ports);
    }

    public static WorkloadPorts read(ProtoReader reader) throws ProtoException {
        List<DeclaredPort> ports = new ArrayList<>();
        while (reader.next()) {
            if (reader.field() == 1) {
                ProtoReader declared = reader.readMessage();
                int port = 0;
                boolean loopback = false;
                while (declared.next()) {
                    switch (declared.field()) {
                        case 1 -> port = declared.readUInt32();
                        case 2 -> loopback = declared.readBool();
                        default -> declared.skip();
                    }
                }
                ports.add(new DeclaredPort(port, loopback));
            } else {
                reader.skip();
            }
        }
        return new WorkloadPorts(ports);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeMessages(1, ports);
    }
}
