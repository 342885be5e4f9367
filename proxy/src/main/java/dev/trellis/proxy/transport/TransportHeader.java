package dev.trellis.proxy.transport;

import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * The header a client proxy sends before opaque bytes on a mesh connection: which port of
 * its workload the server proxy must forward to, and the authority the client resolved
 * (for metrics and logs; may be empty).
 *
 * <p>Wire form, {@value #MAX_LENGTH} bytes at most:
 * <pre>
 *   "TRL1"  magic, 4 bytes
 *   port    2 bytes, big-endian, 1-65535
 *   length  1 byte, 0-{@value #MAX_NAME_LENGTH}
 *   name    length bytes of printable ASCII
 * </pre>
 */
public record TransportHeader(int port, String name) {

    static final byte[] MAGIC = {'T', 'R', 'L', '1'};
    /** Longest authority carried. */
    public static final int MAX_NAME_LENGTH = 253;
    /** Longest header on the wire. */
    public static final int MAX_LENGTH = MAGIC.length + 2 + 1 + MAX_NAME_LENGTH;

    public TransportHeader {
        requireNonNull(name, "name");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("transport header: port " + port + " is outside 1-65535");
        }
        if (name.length() > MAX_NAME_LENGTH) {
            throw new IllegalArgumentException("transport header: name longer than " + MAX_NAME_LENGTH + " characters");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                throw new IllegalArgumentException("transport header: name has a byte outside printable ASCII at " + i);
            }
        }
    }

    /** The header's wire form. */
    public ByteBuf encode(ByteBufAllocator allocator) {
        byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
        ByteBuf out = allocator.buffer(MAGIC.length + 3 + nameBytes.length);
        out.writeBytes(MAGIC).writeShort(port).writeByte(nameBytes.length).writeBytes(nameBytes);
        return out;
    }
}
