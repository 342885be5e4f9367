package dev.trellis.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.DefaultHttp2FrameReader;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2EventAdapter;
import io.netty.handler.codec.http2.Http2FrameReader;
import io.netty.handler.codec.http2.Http2FrameWriter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/2 client for attack and edge-case tests that writes frames as it is told, with no
 * codec in the way to refuse them: requests with any header values, a flood of HEADERS each
 * followed at once by RST_STREAM (CVE-2023-44487, "rapid reset"). Reads what the server
 * answers: response headers per stream, resets, GOAWAY, and the connection's close. Over TLS
 * (with ALPN h2 in the given context) or plaintext (prior knowledge). One connection;
 * not for concurrent use.
 */
public final class RawH2Client implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Http2FrameWriter writer = new DefaultHttp2FrameWriter();
    private final Map<Integer, CompletableFuture<Http2Headers>> responses = new ConcurrentHashMap<>();
    private final AtomicInteger resetsReceived = new AtomicInteger();
    private final CompletableFuture<Long> goAway = new CompletableFuture<>();
    private final CompletableFuture<Void> settingsAcked = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final CompletableFuture<Throwable> failure = new CompletableFuture<>();
    private final Channel channel;
    private int nextStream = 1;

    /** Connects to {@code server}; with {@code tls} the handshake uses {@code peerHost} as the expected name (a mesh identity's DNS-like name). */
    public RawH2Client(InetSocketAddress server, SslContext tls, String peerHost) throws Exception {
        Http2FrameReader reader = new DefaultHttp2FrameReader(false);
        channel = connect(server, tls, peerHost, reader);
    }

    /**
     * The client preface, written on the event loop as the connection becomes usable (TCP up,
     * or the TLS handshake done) and before any frame of the server is read: written from
     * another thread, it could follow the SETTINGS ACK the reader sends.
     */
    private void writePreface(ChannelHandlerContext ctx) {
        ctx.write(Unpooled.wrappedBuffer(Http2CodecUtil.connectionPrefaceBuf()));
        writer.writeSettings(ctx, new Http2Settings(), ctx.newPromise());
        ctx.flush();
    }

    /** Connects and handshakes; on any failure the event loop is shut down, so a refused connection leaves no thread behind. */
    private Channel connect(InetSocketAddress server, SslContext tls, String peerHost, Http2FrameReader reader) throws Exception {
        try {
            Channel connected = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            if (tls != null) {
                                ch.pipeline().addLast(tls.newHandler(ch.alloc(), peerHost, server.getPort()));
                            }
                            ch.pipeline().addLast(new ByteToMessageDecoder() {
                                private final Listener listener = new Listener();

                                @Override
                                public void channelActive(ChannelHandlerContext ctx) throws Exception {
                                    if (tls == null) {
                                        writePreface(ctx);
                                    }
                                    super.channelActive(ctx);
                                }

                                @Override
                                public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
                                    if (event instanceof SslHandshakeCompletionEvent done && done.isSuccess()) {
                                        writePreface(ctx);
                                    }
                                    super.userEventTriggered(ctx, event);
                                }
    
                                @Override
                                protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
                                    reader.readFrame(ctx, in, listener);
                                }
    
                                @Override
                                public void channelInactive(ChannelHandlerContext ctx) throws Exception {
                                    closed.complete(null);
                                    responses.values().forEach(f -> f.completeExceptionally(new IllegalStateException("connection closed")));
                                    super.channelInactive(ctx);
                                }
    
                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    failure.complete(cause);
                                    ctx.close();
                                }
                            });
                        }
                    })
                    .connect(server).sync().channel();
            if (tls != null) {
                connected.pipeline().get(SslHandler.class).handshakeFuture().get(10, TimeUnit.SECONDS);
            }
            return connected;
        } catch (Exception | Error e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    /** A request on a new stream; completes with the response's first headers. */
    public CompletableFuture<Http2Headers> request(Http2Headers headers, boolean endStream) {
        int stream = nextStream;
        nextStream += 2;
        CompletableFuture<Http2Headers> response = new CompletableFuture<>();
        responses.put(stream, response);
        channel.eventLoop().execute(() -> {
            writer.writeHeaders(channel.pipeline().lastContext(), stream, headers, 0, endStream, channel.newPromise());
            channel.flush();
        });
        return response;
    }

    /**
     * {@code count} streams, each HEADERS (ending the stream, as a GET does) then RST_STREAM(CANCEL)
     * at once, written as fast as the socket takes them.
     */
    public void rapidReset(int count, Http2Headers headers) {
        channel.eventLoop().execute(() -> {
            for (int i = 0; i < count && channel.isActive(); i++) {
                int stream = nextStream;
                nextStream += 2;
                writer.writeHeaders(channel.pipeline().lastContext(), stream, headers, 0, true, channel.newPromise());
                writer.writeRstStream(channel.pipeline().lastContext(), stream, 8, channel.newPromise());
                if (i % 64 == 63) {
                    channel.flush();
                }
            }
            channel.flush();
        });
    }

    /**
     * Half a request head: a HEADERS frame on a new stream whose header block does not end (no
     * END_HEADERS flag, one byte of block: {@code :method GET}), and no CONTINUATION after it.
     * Sent once the server's SETTINGS are acknowledged (an ACK inside an open header block
     * would be a protocol error of its own).
     */
    public void halfHeaders() throws Exception {
        settingsAcked.get(10, TimeUnit.SECONDS);
        int stream = nextStream;
        nextStream += 2;
        channel.eventLoop().execute(() -> {
            ByteBuf frame = channel.alloc().buffer(10);
            frame.writeMedium(1).writeByte(0x1).writeByte(0).writeInt(stream).writeByte(0x82);
            channel.writeAndFlush(frame);
        });
    }

    /** A GET for {@code path} on {@code authority}, with extra headers (name, value, ...). */
    public static Http2Headers get(String authority, String path, String... extra) {
        Http2Headers headers = new DefaultHttp2Headers(false).method("GET").scheme("https").authority(authority).path(path);
        for (int i = 0; i + 1 < extra.length; i += 2) {
            headers.add(extra[i], extra[i + 1]);
        }
        return headers;
    }

    public CompletableFuture<Long> goAway() {
        return goAway;
    }

    /** What broke the connection on this side, if anything did (a TLS error, a frame this client could not read). */
    public CompletableFuture<Throwable> failure() {
        return failure;
    }

    public CompletableFuture<Void> closed() {
        return closed;
    }

    public int resetsReceived() {
        return resetsReceived.get();
    }

    public boolean isOpen() {
        return channel.isActive();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class Listener extends Http2EventAdapter {
        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding, boolean endStream) {
            CompletableFuture<Http2Headers> response = responses.get(streamId);
            if (response != null) {
                response.complete(headers);
            }
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int streamDependency, short weight, boolean exclusive,
                                  int padding, boolean endStream) {
            onHeadersRead(ctx, streamId, headers, padding, endStream);
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
            int processed = data.readableBytes() + padding;
            // Keep the server's windows open: a client that never updated them would stall its own responses.
            writer.writeWindowUpdate(ctx, streamId, processed, ctx.newPromise());
            writer.writeWindowUpdate(ctx, 0, processed, ctx.newPromise());
            ctx.flush();
            return processed;
        }

        @Override
        public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) {
            resetsReceived.incrementAndGet();
            CompletableFuture<Http2Headers> response = responses.get(streamId);
            if (response != null) {
                response.completeExceptionally(new IllegalStateException("stream " + streamId + " reset by the server, code " + errorCode));
            }
        }

        @Override
        public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings settings) {
            writer.writeSettingsAck(ctx, ctx.newPromise());
            ctx.flush();
            settingsAcked.complete(null);
        }

        @Override
        public void onPingRead(ChannelHandlerContext ctx, long data) {
            writer.writePing(ctx, true, data, ctx.newPromise());
            ctx.flush();
        }

        @Override
        public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode, ByteBuf debugData) {
            goAway.complete(errorCode);
        }
    }

    /** Streams this client opened, for tests that count. */
    public List<Integer> openedStreams() {
        return List.copyOf(responses.keySet());
    }
}
