package dev.trellis.wire.identity;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;

/** {@code trellis.identity.v1.CertifyRequest}: the identity asked for, the caller's token and its CSR (DER). */
public record CertifyRequest(String identity, String token, byte[] csrDer) implements ProtoWriter.Writable {

    public CertifyRequest {
        requireNonNull(identity, "identity");
        requireNonNull(token, "token");
        requireNonNull(csrDer, "csrDer");
    }

    public static CertifyRequest read(ProtoReader reader) throws ProtoException {
        String identity = "";
        String token = "";
        byte[] csr = new byte[0];
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> identity = reader.readString();
                case 2 -> token = reader.readString();
                case 3 -> csr = reader.readBytes();
                default -> reader.skip();
            }
        }
        return new CertifyRequest(identity, token, csr);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeString(1, identity).writeString(2, token).writeBytes(3, csrDer);
    }
}
