package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.http.RequestOutcomes;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Each HTTP/1 request's head within {@code deadline}, counted from its first byte (the first
 * request's from when the connection was handed to HTTP) and never extended by bytes that
 * trickle in: an outside review held 100 half-sent requests on the outbound listener for
 * 65 s. Past it the client gets 408 and the connection closes; the refusal is reported to the
 * connection log. (The body streams on; {@link OutboundExchange} bounds the pauses in it.)
 * Sits before the HTTP codec; the request handler says when a head is whole
 * ({@link #headComplete}) and when the answer is out ({@link #answered}). One per
 * connection; event-loop only.
 */
final class Http1RequestDeadline extends ChannelInboundHandlerAdapter {

    private final Duration deadline;
    private ScheduledFuture<?> timer;
    /** Between an answer and the next request's first byte: not counting. */
    private boolean idle;

    Http1RequestDeadline(Duration deadline) {
        this.deadline = requireNonNull(deadline, "deadline");
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        arm(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (idle && msg instanceof ByteBuf bytes && bytes.isReadable()) {
            idle = false;
            arm(ctx);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    /** The current request's head is whole. */
    static void headComplete(ChannelHandlerContext any) {
        Http1RequestDeadline self = any.pipeline().get(Http1RequestDeadline.class);
        if (self != null) {
            self.cancel();
        }
    }

    /** The current request is answered: the clock waits for the next one's first byte. */
    static void answered(ChannelHandlerContext any) {
        Http1RequestDeadline self = any.pipeline().get(Http1RequestDeadline.class);
        if (self != null) {
            self.cancel();
            self.idle = true;
        }
    }

    private void arm(ChannelHandlerContext ctx) {
        cancel();
        timer = ctx.executor().schedule(() -> expire(ctx), deadline.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void expire(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive()) {
            return;
        }
        RequestOutcomes.of(ctx.channel()).refused(ProxyError.HEADER_TIMEOUT, null, "no complete request within " + deadline);
        ctx.writeAndFlush(io.netty.buffer.Unpooled.wrappedBuffer(("HTTP/1.1 408 Request Timeout\r\n" + MeshHeaders.PROXY_ERROR + ": "
                + ProxyError.HEADER_TIMEOUT.text() + "\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII)))
                .addListener(ChannelFutureListener.CLOSE);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }
}
