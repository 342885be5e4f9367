package dev.trellis.admin;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A whole request within {@code deadline}: counted from the connection, and again from each
 * answer (keep-alive), never reset by a byte that trickles in — the weakness of a read
 * timeout that slowloris exploits. Sits first in the pipeline; the request handler says when
 * a request is whole ({@link #requestComplete}) and when its answer is out ({@link #answered}):
 * writes reach this handler already encoded, so it cannot see answers itself. One per
 * connection.
 */
final class RequestDeadline extends ChannelInboundHandlerAdapter {

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

    /** Called by the request handler once an answer is out on a kept-alive connection: the next request has the deadline from now. */
    static void answered(ChannelHandlerContext anyContext) {
        RequestDeadline deadline = anyContext.pipeline().get(RequestDeadline.class);
        if (deadline != null && anyContext.channel().isActive()) {
            deadline.connections.waiting(anyContext.channel(), true);
            deadline.arm(anyContext.pipeline().context(deadline));
        }
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
