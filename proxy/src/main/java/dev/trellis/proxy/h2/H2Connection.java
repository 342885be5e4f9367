package dev.trellis.proxy.h2;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.AbstractHttp2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP/2 handler of one connection, client or server, with its streams as {@link H2Stream}
 * objects kept in the codec's own stream map — no child channel, pipeline or frame object per
 * stream. Frames are read straight from the decoder's callbacks and written straight to the
 * encoder. Everything Netty's connection handler enforces still holds: the settings it was built
 * with (concurrent streams, header list size), the reset limits, flow control, graceful close
 * (GOAWAY, then the close once open streams end).
 *
 * <p>A server hands each stream the peer opens to its {@link Acceptor} on the stream's first
 * headers. A client {@linkplain #open opens} streams while it {@linkplain #takesNewStreams takes
 * new ones}: not after the peer's GOAWAY or {@link #stopNewStreams()}. Event loop only.
 */
public final class H2Connection extends Http2ConnectionHandler {

    private static final Logger log = LoggerFactory.getLogger(H2Connection.class);

    /** Decides a stream the peer opened, on its first headers; sets the stream's listener for what follows. */
    @FunctionalInterface
    public interface Acceptor {
        void accept(H2Stream stream, Http2Headers headers, boolean endStream);
    }

    private final Http2Connection.PropertyKey streamKey;
    /** Null on a client: a stream the peer opens is refused. */
    private final Acceptor acceptor;
    private ChannelHandlerContext ctx;
    private boolean newStreamsStopped;

    private H2Connection(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings, Acceptor acceptor) {
        super(decoder, encoder, settings, false, true);
        this.acceptor = acceptor;
        this.streamKey = connection().newKey();
        decoder.frameListener(new Frames());
        connection().addListener(new Streams());
        connection().remote().flowController().listener(stream -> {
            H2Stream ours = stream.getProperty(streamKey);
            if (ours != null && !ours.isClosed()) {
                ours.listener().writabilityChanged();
            }
        });
    }

    /** A server connection: {@code settings} are what it announces and enforces; each stream the client opens goes to {@code acceptor}. */
    public static Builder server(Http2Settings settings, Acceptor acceptor) {
        return new Builder(true, acceptor).initialSettings(settings);
    }

    /** A client connection: no server push, and a stream the server opens is refused. */
    public static Builder client() {
        return new Builder(false, null).initialSettings(Http2Settings.defaultSettings().pushEnabled(false));
    }

    /** The handler of {@code channel}'s connection, when it has one. */
    public static H2Connection of(Channel channel) {
        return channel.pipeline().get(H2Connection.class);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        super.handlerAdded(ctx);
    }

    Channel channel() {
        return ctx.channel();
    }

    /**
     * A GOAWAY frame object written from further along the pipeline (as the header deadline
     * writes it, for this handler or Netty's frame codec alike) is sent as GOAWAY naming the
     * last stream the peer opened; anything else goes on as bytes.
     */
    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof Http2GoAwayFrame goAway) {
            goAway(ctx, connection().remote().lastStreamCreated(), goAway.errorCode(), goAway.content(), promise);
            return;
        }
        super.write(ctx, msg, promise);
    }

    Http2Connection.PropertyKey streamKey() {
        return streamKey;
    }

    /** Open, and neither side said GOAWAY nor was it told to stop taking streams. */
    public boolean takesNewStreams() {
        return staying() && connection().local().canOpenStream();
    }

    /** Open and not going away, but at the peer's limit of concurrent streams: another connection may take the next one. */
    public boolean atStreamLimit() {
        return staying() && !connection().local().canOpenStream();
    }

    /** Open, and neither side said GOAWAY nor was it told to stop taking streams. */
    private boolean staying() {
        return ctx != null && ctx.channel().isActive() && !newStreamsStopped && !connection().goAwayReceived() && !connection().goAwaySent();
    }

    /** No new streams from now on; the open ones go on. */
    public void stopNewStreams() {
        newStreamsStopped = true;
    }

    /**
     * A stream this side opens, listened to by {@code listener}; it goes out with its first
     * {@link H2Stream#writeHeaders}. When the connection cannot take it then, the listener hears
     * {@link H2Stream.Listener#refused()} and {@link H2Stream.Listener#closed()}: nothing was sent.
     */
    public H2Stream open(H2Stream.Listener listener) {
        return new H2Stream(this, listener);
    }

    /** Each open stream, in no particular order. */
    public void forEachStream(Consumer<H2Stream> action) {
        List<H2Stream> streams = new ArrayList<>(connection().numActiveStreams());
        try {
            connection().forEachActiveStream(stream -> {
                H2Stream ours = stream.getProperty(streamKey);
                if (ours != null) {
                    streams.add(ours);
                }
                return true;
            });
        } catch (Http2Exception e) {
            throw new IllegalStateException(e);
        }
        streams.forEach(action);
    }

    ChannelFuture writeHeaders(H2Stream stream, Http2Headers headers, boolean endStream) {
        if (stream.isClosed()) {
            return ctx.newFailedFuture(new IllegalStateException(stream + " is closed"));
        }
        if (stream.codecStream() != null) {
            return encoder().writeHeaders(ctx, stream.id(), headers, 0, endStream, ctx.newPromise());
        }
        if (!takesNewStreams()) {
            refuse(stream);
            return ctx.newFailedFuture(new IllegalStateException("the connection takes no new streams"));
        }
        int id = connection().local().incrementAndGetNextStreamId();
        ChannelFuture written = encoder().writeHeaders(ctx, id, headers, 0, endStream, ctx.newPromise());
        Http2Stream created = connection().stream(id);
        if (created == null) {
            // The codec could not create it (a limit reached just now, or the connection closing): nothing went out.
            refuse(stream);
        } else {
            stream.bind(created);
        }
        return written;
    }

    private static void refuse(H2Stream stream) {
        stream.listener().refused();
        stream.closed();
    }

    ChannelFuture writeData(H2Stream stream, ByteBuf data, boolean endStream) {
        return encoder().writeData(ctx, stream.id(), data, 0, endStream, ctx.newPromise());
    }

    void reset(H2Stream stream, Http2Error error) {
        resetStream(ctx, stream.id(), error.code(), ctx.newPromise());
        flush();
    }

    boolean isWritable(Http2Stream stream) {
        return connection().remote().flowController().isWritable(stream);
    }

    void returnCredit(Http2Stream stream, int bytes) {
        try {
            if (stream.state() != Http2Stream.State.CLOSED) {
                connection().local().flowController().consumeBytes(stream, bytes);
                flush();
            }
        } catch (Http2Exception e) {
            onError(ctx, false, e);
        }
    }

    /** Writes what the streams wrote, flow-controlled data included. */
    void flush() {
        try {
            flush(ctx);
        } catch (Exception e) {
            ctx.fireExceptionCaught(e);
        }
    }

    /**
     * A listener failed on what its stream read: that stream is reset (INTERNAL_ERROR), and the
     * connection's other streams go on — a bug in one exchange must not end every other one
     * (which an exception reaching the codec would: a connection error).
     */
    private static void failed(H2Stream stream, RuntimeException e) {
        log.warn("proxy: {} failed and is reset: {}", stream, e.toString(), e);
        stream.reset(Http2Error.INTERNAL_ERROR);
    }

    /** What the decoder read, to each stream's listener. */
    private final class Frames extends Http2FrameAdapter {
        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int streamDependency, short weight,
                                  boolean exclusive, int padding, boolean endStream) {
            onHeadersRead(ctx, streamId, headers, padding, endStream);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding, boolean endStream) {
            Http2Stream codecStream = connection().stream(streamId);
            H2Stream stream = codecStream == null ? null : codecStream.getProperty(streamKey);
            if (stream != null) {
                try {
                    stream.listener().headers(headers, endStream);
                } catch (RuntimeException e) {
                    failed(stream, e);
                }
                return;
            }
            if (codecStream == null) {
                return;
            }
            if (acceptor == null || connection().local().isValidStreamId(streamId)) {
                // A client of ours never takes a stream the server opens.
                resetStream(ctx, streamId, Http2Error.REFUSED_STREAM.code(), ctx.newPromise());
                return;
            }
            H2Stream accepted = new H2Stream(H2Connection.this, H2Stream.DISCARD);
            accepted.bind(codecStream);
            try {
                acceptor.accept(accepted, headers, endStream);
            } catch (RuntimeException e) {
                failed(accepted, e);
            }
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
            int bytes = data.readableBytes() + padding;
            Http2Stream codecStream = connection().stream(streamId);
            H2Stream stream = codecStream == null ? null : codecStream.getProperty(streamKey);
            if (stream == null || stream.isClosed()) {
                return bytes;
            }
            try {
                stream.listener().data(data.retain(), endOfStream);
            } catch (RuntimeException e) {
                failed(stream, e);
                return bytes;
            }
            return stream.delivered(bytes);
        }

        @Override
        public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
            Http2Stream codecStream = connection().stream(streamId);
            H2Stream stream = codecStream == null ? null : codecStream.getProperty(streamKey);
            if (stream != null && !stream.isClosed()) {
                try {
                    stream.listener().reset(errorCode);
                } catch (RuntimeException e) {
                    failed(stream, e);
                }
            }
        }
    }

    /** The codec's stream events: closes, and GOAWAY's verdict on the streams this side opened. */
    private final class Streams extends Http2ConnectionAdapter {
        @Override
        public void onStreamClosed(Http2Stream codecStream) {
            H2Stream stream = codecStream.getProperty(streamKey);
            if (stream != null) {
                stream.closed();
            }
        }

        @Override
        public void onGoAwayReceived(int lastStreamId, long errorCode, ByteBuf debugData) {
            log.debug("proxy: GOAWAY ({}) on {}: streams after {} were not processed", errorCode, ctx.channel(), lastStreamId);
            forEachStream(stream -> {
                if (stream.id() > lastStreamId && connection().local().isValidStreamId(stream.id()) && !stream.isClosed()) {
                    stream.listener().refused();
                }
            });
        }
    }

    /** Builds {@link H2Connection}s; the bounds are the abstract builder's, exposed where the proxy sets them. */
    public static final class Builder extends AbstractHttp2ConnectionHandlerBuilder<H2Connection, Builder> {
        private final Acceptor acceptor;

        private Builder(boolean server, Acceptor acceptor) {
            this.acceptor = acceptor;
            server(server);
        }

        @Override
        public Builder initialSettings(Http2Settings settings) {
            return super.initialSettings(settings);
        }

        @Override
        public Builder decoderEnforceMaxRstFramesPerWindow(int maxRstFramesPerWindow, int secondsPerWindow) {
            return super.decoderEnforceMaxRstFramesPerWindow(maxRstFramesPerWindow, secondsPerWindow);
        }

        @Override
        public Builder gracefulShutdownTimeoutMillis(long millis) {
            return super.gracefulShutdownTimeoutMillis(millis);
        }

        @Override
        public H2Connection build() {
            return super.build();
        }

        @Override
        protected H2Connection build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings initialSettings) {
            return new H2Connection(decoder, encoder, initialSettings, acceptor);
        }
    }
}
