package dev.trellis.wire.destination;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/** {@code trellis.destination.v1.TcpAddress}: an IP (4 or 16 bytes) and a port, as sent; {@link #toSocketAddress} checks them. */
public record TcpAddress(byte[] ip, int port) implements ProtoWriter.Writable {

    public TcpAddress {
        requireNonNull(ip, "ip");
    }

    /** The address, when the IP has 4 or 16 bytes and the port is 1-65535. */
    public Optional<InetSocketAddress> toSocketAddress() {
        if ((ip.length != 4 && ip.length != 16) || port < 1 || port > 65535) {
            return Optional.empty();
        }
        try {
            return Optional.of(new InetSocketAddress(InetAddress.getByAddress(ip), port));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    public static TcpAddress read(ProtoReader reader) throws ProtoException {
        byte[] ip = new byte[0];
        int port = 0;
        while (reader.next()) {
            switch (reader.field()) {
                case 1 -> ip = reader.readBytes();
                case 2 -> port = reader.readUInt32();
                default -> reader.skip();
            }
        }
        return new TcpAddress(ip, port);
    }

    @Override
    public void writeTo(ProtoWriter writer) {
        writer.writeBytes(1, ip).writeUInt32(2, port);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof TcpAddress that && port == that.port && java.util.Arrays.equals(ip, that.ip);
    }

    @Override
    public int hashCode() {
        return 31 * java.util.Arrays.hashCode(ip) + port;
    }

    @Override
    public String toString() {
        return toSocketAddress().map(Object::toString).orElse("TcpAddress[" + ip.length + " IP bytes, port " + Integer.toUnsignedString(port) + "]");
    }
}
