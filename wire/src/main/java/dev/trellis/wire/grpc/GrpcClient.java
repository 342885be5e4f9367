package dev.trellis.wire.grpc;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.text.Causes;
import dev.trellis.wire.h2.ClientConnections;
import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.protobuf.ProtoWriter;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A gRPC client for the control plane's unary and server-streaming calls, on one HTTP/2
 * connection over TLS (ALPN {@code h2}), on an event loop the caller owns — what the proxy
 * needs of grpc-java, without grpc-java.
 *
 * <p>The connection is made when a call needs it and made again by the next call after it
 * closes or after the server sent GOAWAY (its open streams finish on the old one); calls open
 * when it closes end {@code UNAVAILABLE}. The server is verified by the
 * TLS context against {@link Config#authority} (its SNI name, which a mesh trust manager
 * checks against the server's certificate). Responses over {@link Config#maxMessageBytes} end
 * the call {@code RESOURCE_EXHAUSTED}; an unparsable one ends it {@code INTERNAL}. Each call's
 * callbacks run in order on {@link Config#callbacks}, which also makes new connections (and
 * resolves the server's name): give a single-threaded executor that never waits for a call, or
 * {@code Runnable::run} for a caller that blocks on its calls (callbacks then run on the event
 * loop, connections are made on the calling thread). Thread-safe.
 */
public final class GrpcClient implements AutoCloseable {

    /** Largest response header list accepted from the server. */
    static final int MAX_HEADER_LIST_BYTES = 8 * 1024;

    /** Where and how to connect; without {@code ssl}, plaintext HTTP/2 with prior knowledge (tests against a plaintext server). */
    public record Config(String host, int port, String authority, Optional<SslContext> ssl, EventLoopGroup loops, Class<? extends Channel> channelType,
                         Executor callbacks, int maxMessageBytes, Duration connectTimeout) {
        public Config {
            requireNonNull(host, "host");
            requireNonNull(authority, "authority");
            requireNonNull(ssl, "ssl");
            requireNonNull(loops, "loops");
            requireNonNull(channelType, "channelType");
            requireNonNull(callbacks, "callbacks");
            requireNonNull(connectTimeout, "connectTimeout");
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("grpc: port " + port + " is not a TCP port");
            }
            if (maxMessageBytes < 1) {
                throw new IllegalArgumentException("grpc: a message limit of " + maxMessageBytes + " bytes makes no sense");
            }
        }
    }

    /** Reads one response message. */
    @FunctionalInterface
    public interface Decoder<R> {
        R read(ProtoReader reader) throws ProtoException;
    }

    /** What a call tells its caller, in order, on the config's executor. */
    public interface Listener<R> {
        void onMessage(R message);

        /** The call ended, once, with this status (OK when the server ended it so). */
        void onClose(GrpcStatus status);
    }

    /** An open call. */
    public interface Call {
        /** Ends the call ({@code CANCELLED} to its listener, unless it already ended); the server sees RST_STREAM. */
        void cancel(String why);
    }

    /**
     * A connection with open calls that the server has said nothing on for this long gets a PING
     * (the control plane's servers accept one every 30 s while calls are open, and ping every
     * 60 s themselves, which counts as hearing from them)...
     */
    static final Duration PING_AFTER_SILENCE = Duration.ofSeconds(60);
    /** ... and is closed when the PING is not answered within this: a server gone without a FIN (its node died) is noticed. */
    static final Duration PING_ANSWER_WITHIN = Duration.ofSeconds(20);

    private final Config config;
    private final Duration pingAfterSilence;
    private final Duration pingAnswerWithin;
    private final Object lock = new Object();
    /** Connections made and not yet closed: the newest takes new calls; older ones finish the streams they carry. */
    private final ChannelGroup open = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private Future<Channel> connection;
    private volatile boolean closed;

    public GrpcClient(Config config) {
        this(config, PING_AFTER_SILENCE, PING_ANSWER_WITHIN);
    }

    /** With other keepalive timings (tests). */
    GrpcClient(Config config, Duration pingAfterSilence, Duration pingAnswerWithin) {
        this.config = requireNonNull(config, "config");
        this.pingAfterSilence = requireNonNull(pingAfterSilence, "pingAfterSilence");
        this.pingAnswerWithin = requireNonNull(pingAnswerWithin, "pingAnswerWithin");
    }

    /** A call whose response is one message; the future fails with a {@link GrpcException} unless it ends OK with one. */
    public <R> CompletableFuture<R> unary(String path, ProtoWriter.Writable request, Decoder<R> decoder, Duration deadline) {
        CompletableFuture<R> result = new CompletableFuture<>();
        Call call = start(path, request, decoder, deadline, new Listener<R>() {
            private R response;

            @Override
            public void onMessage(R message) {
                response = message;
            }

            @Override
            public void onClose(GrpcStatus status) {
                if (!status.isOk()) {
                    result.completeExceptionally(status.asException());
                } else if (response == null) {
                    result.completeExceptionally(GrpcStatus.of(GrpcStatus.Code.INTERNAL, "the server sent no response").asException());
                } else {
                    result.complete(response);
                }
            }
        });
        result.whenComplete((r, e) -> {
            if (result.isCancelled()) {
                call.cancel("the caller cancelled");
            }
        });
        return result;
    }

    /** A server-streaming call with no deadline: {@code listener} gets each message, then the status. */
    public <R> Call serverStream(String path, ProtoWriter.Writable request, Decoder<R> decoder, Listener<R> listener) {
        return start(path, request, decoder, null, listener);
    }

    private <R> Call start(String path, ProtoWriter.Writable request, Decoder<R> decoder, Duration deadline, Listener<R> listener) {
        CallHandler<R> handler = new CallHandler<>(path, request, decoder, deadline, listener);
        if (closed) {
            handler.finish(GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, "the client is closed"));
            return handler;
        }
        // On the callbacks executor: a new connection resolves the server's name, which may block.
        config.callbacks().execute(() -> connection().addListener(connected -> {
            if (!connected.isSuccess()) {
                handler.finish(GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, "cannot reach " + config.host() + ":" + config.port() + " ("
                        + config.authority() + "): " + describe(connected.cause())));
                return;
            }
            Channel parent = (Channel) connected.getNow();
            new Http2StreamChannelBootstrap(parent).handler(handler).open().addListener(opened -> {
                if (!opened.isSuccess()) {
                    handler.finish(GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, "cannot open a stream to " + config.authority() + ": " + describe(opened.cause())));
                }
            });
        }));
        return handler;
    }

    private Future<Channel> connection() {
        synchronized (lock) {
            if (connection != null && (!connection.isDone() || (connection.isSuccess() && ClientConnections.takesNewStreams(connection.getNow())))) {
                return connection;
            }
            Promise<Channel> ready = config.loops().next().newPromise();
            connection = ready;
            SslHandler[] ssl = new SslHandler[1];
            ChannelFuture connect = new Bootstrap().group(config.loops()).channel(config.channelType())
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis()))
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            if (config.ssl().isPresent()) {
                                ssl[0] = config.ssl().get().newHandler(ch.alloc(), config.authority(), config.port());
                                ssl[0].setHandshakeTimeoutMillis(config.connectTimeout().toMillis());
                                ch.pipeline().addLast("tls", ssl[0]);
                            }
                            // Before the codec: every byte from the server counts, stream data included.
                            ch.pipeline().addLast("silence", new IdleStateHandler(pingAfterSilence.toMillis(), 0, 0, TimeUnit.MILLISECONDS));
                            ch.pipeline()
                                    .addLast("h2", Http2FrameCodecBuilder.forClient()
                                            .initialSettings(Http2Settings.defaultSettings().pushEnabled(false).maxHeaderListSize(MAX_HEADER_LIST_BYTES))
                                            .build())
                                    .addLast("mux", ClientConnections.multiplexer())
                                    .addLast("keepalive", new KeepAlive(pingAnswerWithin))
                                    // The server is draining: new calls go on a new connection, which may reach another server behind the same address.
                                    .addLast("goaway", ClientConnections.goAwayMarker())
                                    .addLast("ready", new ChannelInboundHandlerAdapter() {
                                        @Override
                                        public void channelActive(ChannelHandlerContext ctx) {
                                            if (ssl[0] == null) {
                                                ready.trySuccess(ctx.channel());
                                            }
                                            ctx.fireChannelActive();
                                        }

                                        @Override
                                        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
                                            if (event instanceof SslHandshakeCompletionEvent done) {
                                                if (!done.isSuccess()) {
                                                    ready.tryFailure(done.cause());
                                                } else if (!ApplicationProtocolNames.HTTP_2.equals(ssl[0].applicationProtocol())) {
                                                    ready.tryFailure(new IllegalStateException("the server did not agree to HTTP/2 (ALPN "
                                                            + ssl[0].applicationProtocol() + ")"));
                                                    ctx.close();
                                                } else {
                                                    ready.trySuccess(ctx.channel());
                                                }
                                            }
                                            ctx.fireUserEventTriggered(event);
                                        }

                                        @Override
                                        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                            ready.tryFailure(cause);
                                            ctx.close();
                                        }

                                        @Override
                                        public void channelInactive(ChannelHandlerContext ctx) {
                                            ready.tryFailure(new IllegalStateException("the connection closed"));
                                            ctx.fireChannelInactive();
                                        }
                                    });
                        }
                    })
                    // Resolved here, on the callbacks executor (see start), never on an event loop.
                    .connect(new InetSocketAddress(config.host(), config.port()));
            open.add(connect.channel());
            connect.addListener(done -> {
                if (!done.isSuccess()) {
                    ready.tryFailure(done.cause());
                }
            });
            return ready;
        }
    }

    /**
     * Pings a silent connection and closes it when the answer does not come in time; any frame
     * from the server counts as an answer (it is alive). Calls on a closed connection end
     * UNAVAILABLE, and their watches reconnect.
     */
    private static final class KeepAlive extends ChannelInboundHandlerAdapter {

        private final Duration answerWithin;
        private ScheduledFuture<?> deadline;

        KeepAlive(Duration answerWithin) {
            this.answerWithin = answerWithin;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            // Only while calls are open: the control plane's servers count a PING on a connection without calls
            // as abuse (and such a connection needs no watching: a new call has its deadline or its watch's retry).
            if (event instanceof IdleStateEvent && deadline == null && ctx.pipeline().get(Http2FrameCodec.class).connection().numActiveStreams() > 0) {
                ctx.writeAndFlush(new DefaultHttp2PingFrame(System.nanoTime()));
                deadline = ctx.executor().schedule(() -> ctx.close(), answerWithin.toMillis(), TimeUnit.MILLISECONDS);
            }
            ctx.fireUserEventTriggered(event);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (deadline != null) {
                deadline.cancel(false);
                deadline = null;
            }
            if (msg instanceof Http2PingFrame ping && ping.ack()) {
                return;   // ours; Netty answers the server's own pings itself
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (deadline != null) {
                deadline.cancel(false);
            }
            ctx.fireChannelInactive();
        }
    }

    /** A refused certificate says so (the identity client names the trust anchors then); anything else, its deepest message. */
    private static String describe(Throwable cause) {
        for (Throwable next = cause; next != null; next = next.getCause()) {
            if (next instanceof java.security.cert.CertificateException) {
                return "the TLS handshake failed: " + next.getMessage();
            }
        }
        return cause == null ? "unknown" : Causes.rootMessage(cause);
    }

    /** Closes the connection; open calls end UNAVAILABLE, new ones fail at once. */
    @Override
    public void close() {
        closed = true;
        Future<Channel> current;
        synchronized (lock) {
            current = connection;
        }
        if (current != null) {
            current.addListener(done -> open.close());
        }
        open.close();
    }

    /** One call on its HTTP/2 stream: writes the request, reads the response, ends once. */
    private final class CallHandler<R> extends ChannelInboundHandlerAdapter implements Call {

        private final String path;
        private final ProtoWriter.Writable request;
        private final Decoder<R> decoder;
        private final Duration deadline;
        private final Listener<R> listener;
        private final GrpcMessages.Deframer deframer = new GrpcMessages.Deframer(config.maxMessageBytes());
        private final AtomicBoolean finished = new AtomicBoolean();
        private volatile boolean cancelled;
        private volatile Channel stream;
        private boolean headersSeen;
        private ScheduledFuture<?> timer;

        CallHandler(String path, ProtoWriter.Writable request, Decoder<R> decoder, Duration deadline, Listener<R> listener) {
            this.path = path;
            this.request = request;
            this.decoder = decoder;
            this.deadline = deadline;
            this.listener = listener;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            stream = ctx.channel();
            if (finished.get()) {
                ctx.close();
                return;
            }
            Http2Headers headers = new DefaultHttp2Headers()
                    .method("POST").scheme(config.ssl().isPresent() ? "https" : "http").path(path).authority(config.authority())
                    .set("content-type", GrpcMessages.CONTENT_TYPE)
                    .set("te", "trailers");
            if (deadline != null) {
                headers.set("grpc-timeout", Math.max(1, deadline.toMillis()) + "m");
                timer = ctx.executor().schedule(() -> fail(ctx, GrpcStatus.of(GrpcStatus.Code.DEADLINE_EXCEEDED,
                        "no answer from " + config.authority() + " within " + deadline.toMillis() + " ms")), deadline.toMillis(), TimeUnit.MILLISECONDS);
            }
            ctx.write(new DefaultHttp2HeadersFrame(headers, false));
            ctx.writeAndFlush(new DefaultHttp2DataFrame(GrpcMessages.frame(ctx.alloc(), request), true)).addListener(written -> {
                if (!written.isSuccess()) {
                    fail(ctx, GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, "cannot send to " + config.authority() + ": " + describe(written.cause())));
                }
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame frame) {
                    onHeaders(ctx, frame);
                } else if (msg instanceof Http2DataFrame data) {
                    List<byte[]> messages = deframer.add(data.content());
                    for (byte[] bytes : messages) {
                        R message = decoder.read(ProtoReader.of(bytes));
                        // Delivered even when the status has come meanwhile (its callback is queued behind this one); not after a cancel.
                        config.callbacks().execute(() -> {
                            if (!cancelled) {
                                listener.onMessage(message);
                            }
                        });
                    }
                    if (data.isEndStream()) {
                        fail(ctx, GrpcStatus.of(GrpcStatus.Code.INTERNAL, "the response ended without trailers"));
                    }
                } else if (msg instanceof Http2ResetFrame reset) {
                    fail(ctx, GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, config.authority() + " reset the stream (" + reset.errorCode() + ")"));
                }
            } catch (GrpcException e) {
                fail(ctx, e.status());
            } catch (ProtoException e) {
                fail(ctx, GrpcStatus.of(GrpcStatus.Code.INTERNAL, "an unreadable response from " + config.authority() + ": " + e.getMessage()));
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void onHeaders(ChannelHandlerContext ctx, Http2HeadersFrame frame) {
            Http2Headers headers = frame.headers();
            if (!headersSeen) {
                headersSeen = true;
                CharSequence status = headers.status();
                if (!"200".contentEquals(status == null ? "" : status)) {
                    fail(ctx, GrpcMessages.fromHttpStatus(status));
                    return;
                }
                CharSequence type = headers.get("content-type");
                if (type == null || !type.toString().startsWith(GrpcMessages.CONTENT_TYPE)) {
                    fail(ctx, GrpcStatus.of(GrpcStatus.Code.UNKNOWN, "a response of content-type " + type + ", not gRPC"));
                    return;
                }
                if (!frame.isEndStream()) {
                    return;
                }
            }
            // Trailers, or trailers-only headers.
            GrpcStatus status = GrpcMessages.status(headers);
            if (status.isOk() && deframer.holdsPart()) {
                status = GrpcStatus.of(GrpcStatus.Code.INTERNAL, "the response ended in the middle of a message");
            }
            finish(status);
            ctx.close();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof Http2ResetFrame reset) {
                fail(ctx, GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, config.authority() + " reset the stream (" + reset.errorCode() + ")"));
            }
            ctx.fireUserEventTriggered(event);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(ctx, GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, "the stream to " + config.authority() + " failed: " + describe(cause)));
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            finish(GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, "the connection to " + config.authority() + " closed"));
        }

        private void fail(ChannelHandlerContext ctx, GrpcStatus status) {
            finish(status);
            ctx.close();
        }

        void finish(GrpcStatus status) {
            if (finished.compareAndSet(false, true)) {
                if (timer != null) {
                    timer.cancel(false);
                }
                config.callbacks().execute(() -> listener.onClose(status));
            }
        }

        @Override
        public void cancel(String why) {
            cancelled = true;
            finish(GrpcStatus.of(GrpcStatus.Code.CANCELLED, why));
            Channel open = stream;
            if (open != null) {
                open.close();
            }
        }
    }
}
