package dev.trellis.proxy.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import java.util.function.LongConsumer;

/**
 * Counts the bytes a connection reads and writes at its place in the pipeline (after TLS:
 * plaintext bytes) into the {@code tcp_*_bytes} counters as they flow: for connections whose
 * bytes are not relayed (HTTP/2 between proxies), which may live for days. One per connection.
 */
public final class ByteCounter extends ChannelDuplexHandler {

    private final LongConsumer onRead;
    private final LongConsumer onWrite;

    public ByteCounter(LongConsumer onRead, LongConsumer onWrite) {
        this.onRead = onRead;
        this.onWrite = onWrite;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        long size = size(msg);
        if (size > 0) {
            onRead.accept(size);
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        long size = size(msg);
        if (size > 0) {
            onWrite.accept(size);
        }
        super.write(ctx, msg, promise);
    }

    private static long size(Object msg) {
        if (msg instanceof ByteBuf buf) {
            return buf.readableBytes();
        }
        return msg instanceof ByteBufHolder holder ? holder.content().readableBytes() : 0;
    }
}
