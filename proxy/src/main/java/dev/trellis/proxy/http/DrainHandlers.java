package dev.trellis.proxy.http;

import dev.trellis.proxy.transport.DrainSignal;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * How the HTTP connections the proxy serves react to {@link DrainSignal}, so that draining
 * loses no request that had started and keeps no connection open longer than it must.
 */
public final class DrainHandlers {

    /**
     * For {@code Http2FrameCodecBuilder.gracefulShutdownTimeoutMillis}: on close, wait for the
     * open streams without a timeout of the codec's own (its builder's default is 0, which
     * cuts them off).
     */
    static final long GRACEFUL_CLOSE_WAITS_FOR_STREAMS = -1;

    private DrainHandlers() {
    }

    /**
     * For an HTTP/2 server connection: close it, which in Netty's HTTP/2 handler means a
     * GOAWAY naming the last stream accepted, then waiting for the open streams to finish
     * (the codec must be built with {@link #GRACEFUL_CLOSE_WAITS_FOR_STREAMS}; the proxy's
     * grace period bounds the wait). The client opens its next streams elsewhere. Stateless.
     */
    public static ChannelHandler http2() {
        return Http2OnDrain.INSTANCE;
    }

    /**
     * For an HTTP/1.1 server connection, placed right after the codec: an idle connection
     * closes at once; one whose request has begun closes after its response (the response
     * also says {@code Connection: close}). One instance per connection.
     */
    public static ChannelHandler http1() {
        return new Http1OnDrain();
    }

    @ChannelHandler.Sharable
    private static final class Http2OnDrain extends ChannelInboundHandlerAdapter {
        static final Http2OnDrain INSTANCE = new Http2OnDrain();

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt == DrainSignal.INSTANCE) {
                ctx.channel().close();
                return;
            }
            super.userEventTriggered(ctx, evt);
        }
    }

    private static final class Http1OnDrain extends ChannelDuplexHandler {
        /** A request's head was read and its response is not yet written. Event-loop only. */
        private boolean exchangeOpen;
        private boolean draining;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (msg instanceof HttpRequest) {
                exchangeOpen = true;
            }
            super.channelRead(ctx, msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            if (msg instanceof HttpResponse response && response.status().codeClass() == io.netty.handler.codec.http.HttpStatusClass.INFORMATIONAL) {
                super.write(ctx, msg, promise);
                return;
            }
            if (msg instanceof LastHttpContent) {
                exchangeOpen = false;
                if (draining) {
                    ChannelPromise written = promise.unvoid();
                    super.write(ctx, msg, written);
                    written.addListener(ChannelFutureListener.CLOSE);
                    return;
                }
            }
            super.write(ctx, msg, promise);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt == DrainSignal.INSTANCE) {
                draining = true;
                if (!exchangeOpen) {
                    ctx.close();
                }
                return;
            }
            super.userEventTriggered(ctx, evt);
        }
    }
}
