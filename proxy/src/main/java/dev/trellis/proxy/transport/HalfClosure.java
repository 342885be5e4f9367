package dev.trellis.proxy.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;

/**
 * Half-closed connections. A client may end its sending side and still wait for the answer
 * (a request-then-shutdown protocol, {@code nc -N}, a client that signals "that was all"):
 * the proxy keeps such a connection open from the moment it is accepted, and each stage says
 * what the end of its input means. Detection decides with the bytes it has; the relay passes
 * the end on to the far side and closes once both directions have ended; HTTP/1 answers what
 * it was sent whole, then closes. A stage that cannot carry a half-close (HTTP/2, which ends
 * with GOAWAY, not a FIN) says so with {@link #notCarried}.
 */
public final class HalfClosure {

    private static final ChannelHandler CLOSE_ON_INPUT_END = new CloseOnInputEnd();

    private HalfClosure() {
    }

    /** Lets {@code channel} outlive the end of its input; set before its first read. */
    public static void allow(Channel channel) {
        channel.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    }

    /** Whether the peer has ended what it sends on {@code channel} (a FIN read while half-closure was allowed). */
    public static boolean inputEnded(Channel channel) {
        return channel instanceof DuplexChannel duplex && duplex.isInputShutdown();
    }

    /**
     * For a stage that cannot carry a half-close, installed last in {@code channel}'s pipeline:
     * the end of its input closes it (through the pipeline, so a protocol may close gracefully),
     * and closes it now if the end already came.
     */
    public static void notCarried(Channel channel) {
        if (inputEnded(channel)) {
            channel.close();
            return;
        }
        channel.pipeline().addLast("input-end", CLOSE_ON_INPUT_END);
    }

    @ChannelHandler.Sharable
    private static final class CloseOnInputEnd extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                ctx.channel().close();
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }
    }
}
