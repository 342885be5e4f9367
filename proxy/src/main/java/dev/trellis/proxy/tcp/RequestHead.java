package dev.trellis.proxy.tcp;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Waits until an HTTP/1 request's whole head is held by the connection's pending handler, so
 * that its {@code Host} header (egress) or its path (a kubelet probe arriving in plaintext)
 * is known before the connection is decided (detection looks at the request line only, and
 * an outside review saw egress decided with no host at all).
 * Bounded: at most {@link #MAX_HEAD} bytes and {@code deadline}, counted once, not per read;
 * past either, or when the client ends its side before the head is whole, {@code then} gets
 * empty and the caller refuses the connection.
 */
public final class RequestHead {

    public static final int MAX_HEAD = 16 * 1024;

    private RequestHead() {
    }

    /** Calls {@code then} on the event loop with the head (up to its blank line), or empty. */
    public static void read(Channel ch, Duration deadline, Consumer<Optional<String>> then) {
        Optional<String> complete = complete(Relay.peekPending(ch, MAX_HEAD));
        if (complete.isPresent()) {
            then.accept(complete);
            return;
        }
        ch.pipeline().addBefore("pending", "request-head", new ChannelInboundHandlerAdapter() {
            private ScheduledFuture<?> timer;
            private boolean done;

            @Override
            public void handlerAdded(ChannelHandlerContext ctx) {
                timer = ctx.executor().schedule(() -> finish(ctx, Optional.empty()), deadline.toNanos(), TimeUnit.NANOSECONDS);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ctx.fireChannelRead(msg);
                String held = Relay.peekPending(ch, MAX_HEAD);
                Optional<String> head = complete(held);
                if (head.isPresent() || held.length() >= MAX_HEAD) {
                    finish(ctx, head);
                }
            }

            /** The client ended its side: the head it sent is whole now or never. */
            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                ctx.fireUserEventTriggered(evt);
                if (evt instanceof ChannelInputShutdownEvent) {
                    finish(ctx, complete(Relay.peekPending(ch, MAX_HEAD)));
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                timer.cancel(false);
                ctx.fireChannelInactive();
            }

            private void finish(ChannelHandlerContext ctx, Optional<String> head) {
                if (done) {
                    return;
                }
                done = true;
                timer.cancel(false);
                ch.config().setAutoRead(false);
                ctx.pipeline().remove(this);
                if (ch.isActive()) {
                    then.accept(head);
                }
            }
        });
        ch.config().setAutoRead(true);
    }

    private static Optional<String> complete(String held) {
        int end = held.indexOf("\r\n\r\n");
        return end < 0 ? Optional.empty() : Optional.of(held.substring(0, end + 4));
    }
}
