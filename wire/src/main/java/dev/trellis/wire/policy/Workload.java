package dev.trellis.wire.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;

/** {@code trellis.policy.v1.Workload}: a pod, by namespace and name. */
public record Workload(String namespace, String name) implements ProtoWriter.Writable {

    public Workload {
        requireNonNull(namespace, "namespace");
        requireNonNull(name, "name");
    }

    public static Workload read(ProtoReader reader) throws ProtoException {
        String namespace = "";
        String name = "";
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> namespace = reader.readString();
                case 2 -> name = reader.readString();
                default -> reader.skip();
            }
        }
        return new Workload(namespace, name);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeString(1, namespace).writeString(2, name);
    }

    @Override
    public String toString() {
        return namespace + "/" + name;
    }
}
