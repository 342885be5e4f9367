package dev.trellis.admin;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 listener that an attacker on the network cannot hold: a bounded request
 * line, headers and body; a whole request within a deadline counted from the connection (or
 * the previous answer) that trickling bytes cannot extend; a bounded number of connections,
 * where a newcomer takes the place of the oldest one still waiting for its request; optional
 * TLS, from a supplier asked at each connection so a renewed certificate applies to the next
 * handshake. The admin listeners and the injector's webhook are both made of it.
 */
public final class BoundedHttpListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BoundedHttpListener.class);

    /** Sizes and times the listener holds requests to. */
    public record Limits(int maxInitialLine, int maxHeaderBytes, int maxBodyBytes, int maxConnections, Duration requestDeadline) {
        public Limits {
            if (maxInitialLine < 64 || maxHeaderBytes < 64 || maxBodyBytes < 0 || maxConnections < 1 || requestDeadline.isNegative() || requestDeadline.isZero()) {
                throw new IllegalArgumentException("http listener: limits " + maxInitialLine + "/" + maxHeaderBytes + "/" + maxBodyBytes + "/" + maxConnections
                        + "/" + requestDeadline + " make no sense");
            }
        }
    }

    /** Answers one whole request; may complete on any thread. A failed future answers 500. */
    @FunctionalInterface
    public interface Handler {
        CompletableFuture<FullHttpResponse> handle(FullHttpRequest request, InetSocketAddress peer);
    }

    /** An answer: whole, or a head followed by a body its writer streams. */
    public sealed interface Reply permits Reply.Whole, Reply.Streamed {

        /** A whole answer, as {@link Handler} gives. */
        record Whole(FullHttpResponse response) implements Reply {}

        /**
         * {@code head} goes out chunked, then {@code writer} is handed the connection (on its
         * event loop) to write {@code HttpContent}s and finally a {@code LastHttpContent}; the
         * connection closes after it. No request deadline runs while it streams: the writer
         * bounds its own time, and stops when the connection closes.
         */
        record Streamed(io.netty.handler.codec.http.HttpResponse head, java.util.function.Consumer<ChannelHandlerContext> writer) implements Reply {}
    }

    /** Answers one whole request with a whole or a streamed reply; may complete on any thread. A failed future answers 500. */
    @FunctionalInterface
    public interface StreamingHandler {
        CompletableFuture<Reply> handle(FullHttpRequest request, InetSocketAddress peer);
    }

    private final Channel channel;

    private BoundedHttpListener(Channel channel) {
        this.channel = channel;
    }

    /**
     * Binds {@code listen} on {@code group}; {@code what} names it in logs and errors. Requests
     * the HTTP codec cannot read get 400, bodies over the limit 413, without reaching
     * {@code handler}. The handler's request is released after its future completes.
     */
    public static BoundedHttpListener start(String what, EventLoopGroup group, HostPort listen, Optional<Supplier<SslContext>> tls, Limits limits,
                                            Handler handler) {
        requireNonNull(handler, "handler");
        return startStreaming(what, group, listen, tls, limits, (request, peer) -> handler.handle(request, peer).thenApply(Reply.Whole::new));
    }

    /** As {@link #start}, for a handler that may also stream its answers. */
    public static BoundedHttpListener startStreaming(String what, EventLoopGroup group, HostPort listen, Optional<Supplier<SslContext>> tls, Limits limits,
                                                     StreamingHandler handler) {
        requireNonNull(handler, "handler");
        OpenConnections connections = new OpenConnections(limits.maxConnections());
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (!connections.admit(ch)) {
                            log.warn("{}: listener full ({} connections all busy); refusing {}", what, limits.maxConnections(), ch.remoteAddress());
                            ch.close();
                            return;
                        }
                        ch.pipeline().addLast(new RequestDeadline(limits.requestDeadline(), connections));
                        tls.ifPresent(context -> ch.pipeline().addLast(context.get().newHandler(ch.alloc())));
                        ch.pipeline()
                                .addLast(new HttpServerCodec(limits.maxInitialLine(), limits.maxHeaderBytes(), 8192))
                                .addLast(new HttpServerKeepAliveHandler())
                                .addLast(new HttpObjectAggregator(limits.maxBodyBytes()))
                                .addLast(new Requests(what, handler));
                    }
                });
        try {
            return new BoundedHttpListener(bootstrap.bind(listen.toSocketAddress()).sync().channel());
        } catch (Exception e) {
            throw new IllegalStateException(what + ": cannot listen on " + listen + ": " + e.getMessage(), e);
        }
    }

    /** The bound address (the real port when started on port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
    }

    /** A plain-text answer that tells caches and browsers to keep out. */
    public static FullHttpResponse text(HttpResponseStatus status, String contentType, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
                .set("X-Content-Type-Options", "nosniff");
        return response;
    }

    private static final class Requests extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final String what;
        private final StreamingHandler handler;

        Requests(String what, StreamingHandler handler) {
            super(false);
            this.what = what;
            this.handler = handler;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            RequestDeadline.requestComplete(ctx);
            if (!request.decoderResult().isSuccess()) {
                boolean tooLarge = request.decoderResult().cause() instanceof io.netty.handler.codec.TooLongFrameException;
                request.release();
                respond(ctx, false, text(tooLarge ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE : HttpResponseStatus.BAD_REQUEST,
                        "text/plain", "bad request: " + request.decoderResult().cause().getMessage() + "\n"), true);
                return;
            }
            boolean head = request.method().equals(HttpMethod.HEAD);
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            CompletableFuture<Reply> answer;
            try {
                answer = handler.handle(request, (InetSocketAddress) ctx.channel().remoteAddress());
            } catch (RuntimeException e) {
                answer = CompletableFuture.failedFuture(e);
            }
            answer.whenComplete((reply, failure) -> {
                request.release();
                ctx.executor().execute(() -> {
                    if (failure != null) {
                        log.warn("{}: answering {} {} failed: {}", what, request.method(), request.uri(), failure.toString());
                        respond(ctx, head, text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "text/plain", "internal error\n"), true);
                    } else if (reply instanceof Reply.Whole whole) {
                        respond(ctx, head, whole.response(), !keepAlive);
                    } else if (reply instanceof Reply.Streamed streamed) {
                        stream(ctx, streamed);
                    }
                });
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("{}: connection from {} failed: {}", what, ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }

        private static void stream(ChannelHandlerContext ctx, Reply.Streamed streamed) {
            if (!ctx.channel().isActive()) {
                return;
            }
            HttpUtil.setTransferEncodingChunked(streamed.head(), true);
            streamed.head().headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(streamed.head());
            streamed.writer().accept(ctx);
        }

        private static void respond(ChannelHandlerContext ctx, boolean head, FullHttpResponse response, boolean close) {
            if (!ctx.channel().isActive()) {
                response.release();
                return;
            }
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
            if (head) {
                response.content().clear();
            }
            boolean keepAlive = !close && !response.headers().contains(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE, true);
            HttpUtil.setKeepAlive(response, keepAlive);
            if (!keepAlive) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.writeAndFlush(response).addListener(written -> RequestDeadline.answered(ctx));
            }
        }
    }
}
