package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.transport.Deadlines;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * Each HTTP/1 request's head within {@code deadline}, counted from its first byte (the first
 * request's from when the connection was handed to HTTP) and never extended by bytes that
 * trickle in: an outside review held 100 half-sent requests on the outbound listener for
 * 65 s. Past it the client gets 408 and the connection closes; the refusal is reported to the
 * connection log. (The body streams on; {@link OutboundExchange} bounds the pauses in it.)
 * Sits before the HTTP codec; the request handler says when a head is whole
 * ({@link #headComplete}), when the request was read whole ({@link #requestRead}) and when
 * the answer is out ({@link #answered}). The connection goes on reading while a request is
 * answered, so the next request's first byte may come before that answer is out: its clock
 * starts then, but a 408 never lands in the middle of an answer; one that falls due during
 * it is sent once the answer is out. One per connection; event-loop only.
 */
final class Http1RequestDeadline extends ChannelInboundHandlerAdapter {

    private final Duration deadline;
    private final Deadlines.Source wheels;
    private final Consumer<ProxyFailure> refused;
    private Deadlines wheel;
    private Deadlines.Deadline timer;
    /** Waiting for the next request's first byte: not counting. */
    private boolean idle;
    /** The current request was read whole and its answer is not out yet. */
    private boolean answering;
    /** The next request's deadline passed while the current one was being answered. */
    private boolean overdue;

    /** {@code refused} hears each 408 before it is written (the owner logs and counts it: {@link dev.trellis.proxy.http.Refusals}). */
    Http1RequestDeadline(Duration deadline, Deadlines.Source wheels, Consumer<ProxyFailure> refused) {
        this.deadline = requireNonNull(deadline, "deadline");
        this.wheels = requireNonNull(wheels, "wheels");
        this.refused = requireNonNull(refused, "refused");
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        wheel = wheels.of(ctx.channel().eventLoop());
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

    /** A request's head is whole (the current one's, or one a client pipelined behind it). */
    static void headComplete(ChannelHandlerContext any) {
        Http1RequestDeadline self = any.pipeline().get(Http1RequestDeadline.class);
        if (self != null) {
            self.cancel();
            self.idle = false;
            self.overdue = false;
        }
    }

    /** The current request was read whole: the bytes that come next are the next request's. */
    static void requestRead(ChannelHandlerContext any) {
        Http1RequestDeadline self = any.pipeline().get(Http1RequestDeadline.class);
        if (self != null) {
            self.answering = true;
            self.idle = self.timer == null;
        }
    }

    /**
     * The current request is answered: the clock waits for the next one's first byte, or goes
     * on counting from it if it came while the answer was going out (a 408 that fell due then
     * is sent now).
     */
    static void answered(ChannelHandlerContext any) {
        Http1RequestDeadline self = any.pipeline().get(Http1RequestDeadline.class);
        if (self != null) {
            self.answering = false;
            if (self.overdue) {
                self.overdue = false;
                self.expire(any.pipeline().context(self));
            } else if (self.timer == null) {
                self.idle = true;
            }
        }
    }

    private void arm(ChannelHandlerContext ctx) {
        cancel();
        timer = wheel.schedule(deadline, () -> expire(ctx));
    }

    private void expire(ChannelHandlerContext ctx) {
        timer = null;
        if (!ctx.channel().isActive()) {
            return;
        }
        if (answering) {
            overdue = true;
            return;
        }
        refused.accept(ProxyError.HEADER_TIMEOUT.because("no complete request within " + deadline));
        ctx.writeAndFlush(io.netty.buffer.Unpooled.wrappedBuffer(("HTTP/1.1 408 Request Timeout\r\n" + MeshHeaders.PROXY_ERROR + ": "
                + ProxyError.HEADER_TIMEOUT.text() + "\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII)))
                .addListener(ChannelFutureListener.CLOSE);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel();
            timer = null;
        }
    }
}
