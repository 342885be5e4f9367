package dev.trellis.wire.h2;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.util.AttributeKey;

/**
 * The pieces of an HTTP/2 client connection that takes new streams until the server says
 * GOAWAY: a multiplexer that closes any stream the server opens (a client of ours never
 * accepts one), and a marker that, on GOAWAY, stops new streams on the connection while the
 * streams it carries finish. Whoever opens streams asks {@link #takesNewStreams} first.
 */
public final class ClientConnections {

    private static final AttributeKey<Boolean> GOING_AWAY = AttributeKey.valueOf(ClientConnections.class, "goingAway");

    private ClientConnections() {}

    /** The multiplexer for after the client codec: a stream the server opens is closed at once. */
    public static Http2MultiplexHandler multiplexer() {
        return new Http2MultiplexHandler(ServerStreams.REFUSED);
    }

    /** The handler for after the multiplexer that reads GOAWAY as "no new streams here". */
    public static ChannelHandler goAwayMarker() {
        return GoAwayMarker.INSTANCE;
    }

    /** No new streams on {@code connection} from now on (the server's GOAWAY, or the client draining it). */
    public static void stopNewStreams(Channel connection) {
        connection.attr(GOING_AWAY).set(Boolean.TRUE);
    }

    /** Open, and neither side has said GOAWAY. */
    public static boolean takesNewStreams(Channel connection) {
        return connection.isActive() && !connection.hasAttr(GOING_AWAY);
    }

    @ChannelHandler.Sharable
    private static final class ServerStreams extends ChannelInboundHandlerAdapter {
        static final ServerStreams REFUSED = new ServerStreams();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.close();
        }
    }

    @ChannelHandler.Sharable
    private static final class GoAwayMarker extends ChannelInboundHandlerAdapter {
        static final GoAwayMarker INSTANCE = new GoAwayMarker();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2GoAwayFrame goAway) {
                // The server is draining (a rollout, say): its open streams finish here; new ones go on another connection.
                stopNewStreams(ctx.channel());
                goAway.release();
                return;
            }
            ctx.fireChannelRead(msg);
        }
    }
}
