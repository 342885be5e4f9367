package dev.trellis.admin;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A whole request within {@code deadline}: counted from the connection, and again from each
 * answer (keep-alive), never reset by a byte that trickles in — the weakness of a read
 * timeout that slowloris exploits. Sits before the HTTP codec; the route handler says when
 * a request is whole ({@link #requestComplete}). One per connection.
 */
final class RequestDeadline extends ChannelDuplexHandler {

    private final Duration deadline;
    private final OpenConnections connections;
    private ScheduledFuture<?> timer;

    RequestDeadline(Duration deadline, OpenConnections connections) {
        this.deadline = deadline;
        this.connections = connections;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        arm(ctx);
    }

    /** Called by the route handler: the request is whole, the clock stops while it is answered. */
    static void requestComplete(ChannelHandlerContext anyContext) {
        RequestDeadline deadline = anyContext.pipeline().get(RequestDeadline.class);
        if (deadline != null) {
            deadline.cancel();
            deadline.connections.waiting(anyContext.channel(), false);
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof LastHttpContent || (msg instanceof io.netty.handler.codec.http.FullHttpResponse)) {
            // The answer is out: the next request has the deadline from now.
            promise.addListener(f -> {
                if (ctx.channel().isActive()) {
                    connections.waiting(ctx.channel(), true);
                    arm(ctx);
                }
            });
        }
        ctx.write(msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    private void arm(ChannelHandlerContext ctx) {
        cancel();
        timer = ctx.executor().schedule(() -> {
            if (ctx.channel().isActive()) {
                ctx.close();
            }
        }, deadline.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }
}
