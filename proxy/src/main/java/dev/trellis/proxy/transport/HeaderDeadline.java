package dev.trellis.proxy.transport;

import static java.util.Objects.requireNonNull;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A total deadline for a connection's opening — a TLS handshake and transport header, an
 * HTTP request head: counted from when the handler is added, and not extended by bytes that
 * trickle in, as a read timeout would be (an outside review held a proxy's connections with
 * one byte every few seconds). Past the deadline {@code onExpiry} runs and the connection
 * closes; {@link #settle} ends the wait once the opening is complete. One per connection.
 */
public final class HeaderDeadline extends ChannelInboundHandlerAdapter {

    private static final String NAME = "deadline";

    private final Duration deadline;
    private final Runnable onExpiry;
    private ScheduledFuture<?> timer;

    public HeaderDeadline(Duration deadline, Runnable onExpiry) {
        this.deadline = requireNonNull(deadline, "deadline");
        this.onExpiry = requireNonNull(onExpiry, "onExpiry");
    }

    /** Adds a deadline first in {@code channel}'s pipeline. */
    public static void arm(Channel channel, Duration deadline, Runnable onExpiry) {
        channel.pipeline().addFirst(NAME, new HeaderDeadline(deadline, onExpiry));
    }

    /** Ends {@code channel}'s deadline, if it has one: its opening is complete (it stops counting in its listener's {@link Openings} too). */
    public static void settle(Channel channel) {
        if (channel.pipeline().get(HeaderDeadline.class) != null) {
            channel.pipeline().remove(HeaderDeadline.class);
        }
        Openings.settle(channel);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        timer = ctx.executor().schedule(() -> {
            if (ctx.channel().isActive()) {
                onExpiry.run();
                ctx.close();
            }
        }, deadline.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
        }
        ctx.fireChannelInactive();
    }
}
