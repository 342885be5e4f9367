package dev.trellis.proxy.http;

import dev.trellis.proxy.tcp.Relay;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Joins two HTTP/2 streams (child channels of two connections): headers, data and resets
 * read on one are written, as fresh frames, on the other — bodies stream through, never
 * buffered whole by design. A stream that ends abnormally resets its peer — unless it is the
 * answering side and ends before any response headers, when the caller may answer in its place
 * (a 502 with the reason, as HTTP/1 gets) instead of the bare reset.
 *
 * <p>Backpressure follows HTTP/2 flow control end to end: a side whose peer stream is not
 * writable stops reading, which withholds flow-control credit from its sender; when the
 * peer drains, reading resumes and the withheld credit goes out as a WINDOW_UPDATE.
 */
public final class StreamRelay {

    private StreamRelay() {}

    /** Joins {@code first} (which may hold frames in a {@link Relay#pending} handler) to {@code second}, both active. */
    public static void join(Channel first, Channel second) {
        join(first, second, null);
    }

    /**
     * As {@link #join(Channel, Channel)}, and when {@code second} (the answering side) closes
     * before any headers of it reached {@code first}, {@code unanswered} runs instead of the
     * reset (it answers {@code first} itself); {@code null}: reset, as any other early end.
     */
    public static void join(Channel first, Channel second, Runnable unanswered) {
        Forwarder toSecond = new Forwarder(second, null);
        second.pipeline().addLast("relay", new Forwarder(first, unanswered));
        ArrayDeque<Object> frames = Relay.takePending(first, toSecond);
        Object msg;
        while ((msg = frames.poll()) != null) {
            toSecond.forward(msg);
        }
        first.config().setAutoRead(true);
        second.config().setAutoRead(true);
    }

    /**
     * Flushes a stream and its connection. A stream's own flush is deferred by its connection
     * when that connection is busy reading; writes made from another connection's read loop
     * (the peer stream's) would then wait for this connection's next read, so the connection
     * is flushed as well.
     */
    public static void flushThrough(Channel stream) {
        stream.flush();
        if (stream.parent() != null) {
            stream.parent().flush();
        }
    }

    /** A copy of {@code frame} fit to be written on another stream; releases the original's claim. */
    static Object copy(Object frame) {
        return switch (frame) {
            case Http2HeadersFrame headers -> new DefaultHttp2HeadersFrame(headers.headers(), headers.isEndStream());
            case Http2DataFrame data -> new DefaultHttp2DataFrame(data.content(), data.isEndStream());
            case Http2ResetFrame reset -> new DefaultHttp2ResetFrame(reset.errorCode());
            default -> null;
        };
    }

    private static final class Forwarder extends ChannelInboundHandlerAdapter {
        private final Channel peer;
        private final Runnable unanswered;
        private boolean ended;
        private boolean headersForwarded;
        private boolean flushScheduled;

        Forwarder(Channel peer, Runnable unanswered) {
            this.peer = peer;
            this.unanswered = unanswered;
        }

        void forward(Object msg) {
            Object copy = copy(msg);
            if (copy == null) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof Http2HeadersFrame h && h.isEndStream() || msg instanceof Http2DataFrame d && d.isEndStream()
                    || msg instanceof Http2ResetFrame) {
                ended = true;
            }
            headersForwarded |= msg instanceof Http2HeadersFrame;
            peer.write(copy);
            // Streams opened by this side do not always see channelReadComplete, so the flush is
            // scheduled on the event loop instead: it runs after the frames of this read burst, once.
            if (!flushScheduled) {
                flushScheduled = true;
                peer.eventLoop().execute(() -> {
                    flushScheduled = false;
                    flushThrough(peer);
                });
            }
        }


        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!peer.isActive()) {
                ReferenceCountUtil.release(msg);
                return;
            }
            forward(msg);
            if (!peer.isWritable()) {
                // Backpressure: stop reading (and so stop granting flow-control credit) until the peer drains.
                ctx.channel().config().setAutoRead(false);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable() && !peer.config().isAutoRead()) {
                // Resuming the peer's reads returns its withheld flow-control credit as a
                // WINDOW_UPDATE; Netty writes that to the connection without flushing it, so
                // flush the connection too, or the sender never learns it may go on.
                peer.config().setAutoRead(true);
                flushThrough(peer);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!ended && peer.isActive()) {
                if (unanswered != null && !headersForwarded) {
                    unanswered.run();
                } else {
                    peer.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
                }
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
