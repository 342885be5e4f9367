package dev.trellis.proxy.transport;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Reads one {@link TransportHeader} from the start of an opaque mesh connection, emits it,
 * and removes itself, so the bytes after the header flow on untouched. A header that is
 * malformed fails the pipeline with a {@link CorruptedFrameException} naming what was wrong;
 * the owner closes the connection. One instance per connection.
 */
public final class TransportHeaderDecoder extends ByteToMessageDecoder {

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        int start = in.readerIndex();
        int available = in.readableBytes();
        int magicLength = TransportHeader.MAGIC.length;
        for (int i = 0; i < Math.min(available, magicLength); i++) {
            if (in.getByte(start + i) != TransportHeader.MAGIC[i]) {
                throw new CorruptedFrameException("transport header: bad magic (not a Trellis opaque connection)");
            }
        }
        if (available < magicLength + 3) {
            return;
        }
        int port = in.getUnsignedShort(start + magicLength);
        int nameLength = in.getUnsignedByte(start + magicLength + 2);
        if (port == 0) {
            throw new CorruptedFrameException("transport header: port 0");
        }
        if (nameLength > TransportHeader.MAX_NAME_LENGTH) {
            throw new CorruptedFrameException("transport header: name length " + nameLength + " over " + TransportHeader.MAX_NAME_LENGTH);
        }
        if (available < magicLength + 3 + nameLength) {
            return;
        }
        String name = in.toString(start + magicLength + 3, nameLength, StandardCharsets.US_ASCII);
        in.skipBytes(magicLength + 3 + nameLength);
        try {
            out.add(new TransportHeader(port, name));
        } catch (IllegalArgumentException e) {
            throw new CorruptedFrameException(e.getMessage());
        }
        ctx.pipeline().remove(this);
    }
}
