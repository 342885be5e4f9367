package dev.trellis.wire.destination;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code trellis.destination.v1.WeightedAddr}: one endpoint, its weight, labels, the identity
 * its proxy presents ({@code ""} when unmeshed; {@code TlsIdentity.spiffe_id}), whether it
 * speaks opaque TCP ({@code ProtocolHint}) and its proxy's inbound port.
 */
public record WeightedAddr(TcpAddress addr, int weight, Map<String, String> metricLabels, String spiffeId, boolean opaqueHint,
                           int proxyInboundPort) implements ProtoWriter.Writable {

    static final int PROTOCOL_OPAQUE = 2;

    public WeightedAddr {
        requireNonNull(addr, "addr");
        metricLabels = Map.copyOf(metricLabels);
        requireNonNull(spiffeId, "spiffeId");
    }

    public static WeightedAddr read(ProtoReader reader) throws ProtoException {
        TcpAddress addr = new TcpAddress(new byte[0], 0);
        int weight = 0;
        Map<String, String> labels = new LinkedHashMap<>();
        String spiffeId = "";
        boolean opaque = false;
        int inboundPort = 0;
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> addr = TcpAddress.read(reader.readMessage());
                case 2 -> weight = reader.readUInt32();
                case 3 -> reader.readStringMapEntry(labels);
                case 4 -> spiffeId = readSpiffeId(reader.readMessage());
                case 5 -> opaque = readProtocol(reader.readMessage()) == PROTOCOL_OPAQUE;
                case 6 -> inboundPort = reader.readUInt32();
                default -> reader.skip();
            }
        }
        return new WeightedAddr(addr, weight, labels, spiffeId, opaque, inboundPort);
    }

    private static String readSpiffeId(ProtoReader tlsIdentity) throws ProtoException {
        String spiffeId = "";
        while (tlsIdentity.next()) {
            if (tlsIdentity.field() == 1) {
                spiffeId = tlsIdentity.readString();
            } else {
                tlsIdentity.skip();
            }
        }
        return spiffeId;
    }

    private static int readProtocol(ProtoReader hint) throws ProtoException {
        int protocol = 0;
        while (hint.next()) {
            if (hint.field() == 1) {
                protocol = hint.readEnum();
            } else {
                hint.skip();
            }
        }
        return protocol;
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeMessage(1, addr).writeUInt32(2, weight).writeStringMap(3, metricLabels);
        if (!spiffeId.isEmpty()) {
            writer.writeMessage(4, tls -> tls.writeString(1, spiffeId));
        }
        if (opaqueHint) {
            writer.writeMessage(5, hint -> hint.writeInt32(1, PROTOCOL_OPAQUE));
        }
        writer.writeUInt32(6, proxyInboundPort);
    }
}
