package dev.trellis.proxy.detect;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Reads the server name (SNI) from a TLS ClientHello at the start of a buffer, without
 * consuming it. Only the first TLS record is looked at (a ClientHello larger than one record
 * is TLS with an unknown name). Every length is checked against what is there.
 */
final class ClientHelloParser {

    /** Outcome of a look at the buffer. */
    sealed interface Result permits NeedMore, NotTls, Tls {}

    record NeedMore() implements Result {}

    record NotTls() implements Result {}

    record Tls(Optional<String> serverName) implements Result {}

    private static final int RECORD_HEADER = 5;
    static final int MAX_RECORD = 16384 + 2048;
    private static final int HANDSHAKE = 0x16;
    private static final int CLIENT_HELLO = 0x01;
    private static final int EXTENSION_SERVER_NAME = 0x0000;
    private static final int MAX_NAME = 255;

    private ClientHelloParser() {}

    static Result parse(ByteBuf in) {
        int start = in.readerIndex();
        int available = in.readableBytes();
        if (available < 1) {
            return new NeedMore();
        }
        if (in.getUnsignedByte(start) != HANDSHAKE) {
            return new NotTls();
        }
        if (available < 3) {
            return new NeedMore();
        }
        if (in.getUnsignedByte(start + 1) != 0x03) {
            return new NotTls();
        }
        if (available < RECORD_HEADER) {
            return new NeedMore();
        }
        int recordLength = in.getUnsignedShort(start + 3);
        if (recordLength == 0 || recordLength > MAX_RECORD) {
            return new NotTls();
        }
        if (available < RECORD_HEADER + recordLength) {
            return new NeedMore();
        }
        return new Tls(serverName(in, start + RECORD_HEADER, start + RECORD_HEADER + recordLength));
    }

    private static Optional<String> serverName(ByteBuf in, int offset, int end) {
        // handshake header: type(1) length(3)
        if (offset + 4 > end || in.getUnsignedByte(offset) != CLIENT_HELLO) {
            return Optional.empty();
        }
        int position = offset + 4;
        position += 2 + 32; // client_version, random
        position = skipVector(in, position, end, 1); // session_id
        position = skipVector(in, position, end, 2); // cipher_suites
        position = skipVector(in, position, end, 1); // compression_methods
        if (position < 0 || position + 2 > end) {
            return Optional.empty();
        }
        int extensionsEnd = position + 2 + in.getUnsignedShort(position);
        position += 2;
        if (extensionsEnd > end) {
            return Optional.empty();
        }
        while (position + 4 <= extensionsEnd) {
            int type = in.getUnsignedShort(position);
            int length = in.getUnsignedShort(position + 2);
            position += 4;
            if (position + length > extensionsEnd) {
                return Optional.empty();
            }
            if (type == EXTENSION_SERVER_NAME) {
                return hostName(in, position, position + length);
            }
            position += length;
        }
        return Optional.empty();
    }

    private static Optional<String> hostName(ByteBuf in, int position, int end) {
        if (position + 2 > end) {
            return Optional.empty();
        }
        int listEnd = position + 2 + in.getUnsignedShort(position);
        position += 2;
        if (listEnd > end) {
            return Optional.empty();
        }
        while (position + 3 <= listEnd) {
            int nameType = in.getUnsignedByte(position);
            int length = in.getUnsignedShort(position + 1);
            position += 3;
            if (position + length > listEnd) {
                return Optional.empty();
            }
            if (nameType == 0 && length > 0 && length <= MAX_NAME) {
                String name = in.toString(position, length, StandardCharsets.US_ASCII);
                return name.chars().allMatch(c -> c > 0x20 && c < 0x7f) ? Optional.of(name) : Optional.empty();
            }
            position += length;
        }
        return Optional.empty();
    }

    /** Skips a vector with a {@code lengthBytes}-byte length prefix; -1 when it overruns. */
    private static int skipVector(ByteBuf in, int position, int end, int lengthBytes) {
        if (position < 0 || position + lengthBytes > end) {
            return -1;
        }
        int length = lengthBytes == 1 ? in.getUnsignedByte(position) : in.getUnsignedShort(position);
        int next = position + lengthBytes + length;
        return next > end ? -1 : next;
    }
}
