package dev.trellis.wire.identity;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.ArrayList;
import java.util.List;

/** {@code trellis.identity.v1.CertifyResponse}: the leaf and its intermediates (DER); {@code valid_until} is read from the leaf itself. */
public record CertifyResponse(byte[] leafDer, List<byte[]> intermediatesDer) implements ProtoWriter.Writable {

    public CertifyResponse {
        requireNonNull(leafDer, "leafDer");
        intermediatesDer = List.copyOf(intermediatesDer);
    }

    public static CertifyResponse read(ProtoReader reader) throws ProtoException {
        byte[] leaf = new byte[0];
        List<byte[]> intermediates = new ArrayList<>();
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> leaf = reader.readBytes();
                case 2 -> intermediates.add(reader.readBytes());
                default -> reader.skip();
            }
        }
        return new CertifyResponse(leaf, intermediates);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeBytes(1, leafDer);
        writer.writeRepeatedBytes(2, intermediatesDer);
    }
}
