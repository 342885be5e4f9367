package dev.trellis.proxy.tap;

import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.http.H2HeaderDeadline;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.wire.grpc.GrpcException;
import dev.trellis.wire.grpc.GrpcMessages;
import dev.trellis.wire.grpc.GrpcStatus;
import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import dev.trellis.wire.tap.ObserveRequest;
import dev.trellis.wire.tap.TapService;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tap listener (default 0.0.0.0:4190): gRPC over mutual TLS, {@code Tap.Observe} for the
 * viz identity only (anyone else: PERMISSION_DENIED). At most {@value #MAX_LIMIT} events and
 * {@value #MAX_SUBSCRIBERS} subscribers at once; a subscriber that cannot keep up loses events
 * rather than queueing them. Every refusal and every tap opened is logged with the caller's
 * address and identity. Bounded as the control plane's gRPC servers are: a
 * {@value #MAX_REQUEST_BYTES}-byte request, an {@value #MAX_HEADER_LIST_BYTES}-byte header list,
 * {@value #MAX_SUBSCRIBERS} streams per connection, at most {@value #MAX_RESETS} resets per
 * {@value #RESET_WINDOW_SECONDS} s, 10 s for the handshake and for every header block, and
 * 5 min without a byte either way closes the connection. Runs on the proxy's own event loop.
 */
public final class TapServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TapServer.class);

    static final int MAX_LIMIT = 10_000;
    static final int MAX_SUBSCRIBERS = 8;
    static final int MAX_REQUEST_BYTES = 16 * 1024;
    static final int MAX_HEADER_LIST_BYTES = 8 * 1024;
    static final int MAX_RESETS = 100;
    static final int RESET_WINDOW_SECONDS = 10;
    private static final Duration HANDSHAKE_AND_HEADERS = Duration.ofSeconds(10);
    private static final Duration IDLE = Duration.ofMinutes(5);

    private final Channel listener;

    private TapServer(Channel listener) {
        this.listener = listener;
    }

    public static TapServer start(HostPort listen, IoRuntime io, CredentialsStore credentials, WorkloadIdentity viz, TapHub hub, Clock clock)
            throws IOException {
        SslContext tls = MeshSslContexts.forGrpcServer(credentials, ClientAuth.REQUIRE, clock);
        IdentityPattern allowed = IdentityPattern.exactly(viz);
        try {
            Channel listener = io.listen(new ServerBootstrap().group(io.group())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel connection) {
                            SslHandler ssl = tls.newHandler(connection.alloc());
                            ssl.setHandshakeTimeoutMillis(HANDSHAKE_AND_HEADERS.toMillis());
                            connection.pipeline()
                                    .addLast("tls", ssl)
                                    .addLast("idle", new IdleStateHandler(0, 0, IDLE.toSeconds(), TimeUnit.SECONDS))
                                    .addLast("close-idle", new ChannelInboundHandlerAdapter() {
                                        @Override
                                        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
                                            if (event instanceof IdleStateEvent) {
                                                ctx.close();
                                            }
                                            ctx.fireUserEventTriggered(event);
                                        }
                                    })
                                    .addLast("head-deadline", new H2HeaderDeadline(HANDSHAKE_AND_HEADERS, io, true,
                                            why -> log.info("proxy: tap connection from {} closed: {}", connection.remoteAddress(), why)))
                                    .addLast("h2", Http2FrameCodecBuilder.forServer()
                                            .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(MAX_SUBSCRIBERS)
                                                    .maxHeaderListSize(MAX_HEADER_LIST_BYTES))
                                            .decoderEnforceMaxRstFramesPerWindow(MAX_RESETS, RESET_WINDOW_SECONDS)
                                            .build())
                                    .addLast("mux", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                                        @Override
                                        protected void initChannel(Http2StreamChannel stream) {
                                            stream.pipeline().addLast("observe", new Observe(ssl, allowed, viz, hub));
                                        }
                                    }));
                        }
                    }), listen).sync().channel();
            return new TapServer(listener);
        } catch (Exception e) {
            throw new IOException("proxy: cannot listen for tap on " + listen + ": " + e.getMessage(), e);
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) listener.localAddress();
    }

    @Override
    public void close() {
        listener.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    /** One {@code Observe} call on its stream: checks the call and the caller, reads the request, then streams events. */
    private static final class Observe extends ChannelInboundHandlerAdapter {

        private final SslHandler ssl;
        private final IdentityPattern allowed;
        private final WorkloadIdentity viz;
        private final TapHub hub;
        private final GrpcMessages.Deframer deframer = new GrpcMessages.Deframer(MAX_REQUEST_BYTES);
        private ObserveRequest request;
        private boolean answered;
        private TapHub.Subscriber subscriber;

        Observe(SslHandler ssl, IdentityPattern allowed, WorkloadIdentity viz, TapHub hub) {
            this.ssl = ssl;
            this.allowed = allowed;
            this.viz = viz;
            this.hub = hub;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (answered) {
                    return;
                }
                if (msg instanceof Http2HeadersFrame headers) {
                    checkCall(ctx, headers.headers());
                    if (!answered && headers.isEndStream()) {
                        end(ctx, GrpcStatus.of(GrpcStatus.Code.INTERNAL, "tap: the call carried no request"), true);
                    }
                } else if (msg instanceof Http2DataFrame data) {
                    List<byte[]> messages = deframer.add(data.content());
                    if (!messages.isEmpty() && (request != null || messages.size() > 1)) {
                        end(ctx, GrpcStatus.of(GrpcStatus.Code.INTERNAL, "tap: Observe takes one request"), true);
                        return;
                    }
                    if (!messages.isEmpty()) {
                        request = ObserveRequest.read(ProtoReader.of(messages.getFirst()));
                    }
                    if (data.isEndStream()) {
                        if (request == null) {
                            end(ctx, GrpcStatus.of(GrpcStatus.Code.INTERNAL, "tap: the call carried no request"), true);
                        } else {
                            observe(ctx);
                        }
                    }
                }
            } catch (GrpcException e) {
                end(ctx, e.status(), true);
            } catch (ProtoException e) {
                end(ctx, GrpcStatus.of(GrpcStatus.Code.INTERNAL, "tap: an unreadable request: " + e.getMessage()), true);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void checkCall(ChannelHandlerContext ctx, Http2Headers headers) {
            CharSequence type = headers.get("content-type");
            if (!"POST".contentEquals(String.valueOf(headers.method())) || type == null || !type.toString().startsWith(GrpcMessages.CONTENT_TYPE)) {
                answered = true;
                log.info("proxy: tap call from {} refused: {} {} is not a gRPC call (415)", who(ctx), headers.method(), type);
                ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("415"), true)).addListener(f -> ctx.close());
                return;
            }
            if (!TapService.OBSERVE.contentEquals(String.valueOf(headers.path()))) {
                end(ctx, GrpcStatus.of(GrpcStatus.Code.UNIMPLEMENTED, "tap: no method " + headers.path()), true);
                return;
            }
            Optional<WorkloadIdentity> caller = MeshSslContexts.peerIdentity(ssl.engine().getSession());
            if (caller.isEmpty() || !allowed.matches(caller.get())) {
                end(ctx, GrpcStatus.of(GrpcStatus.Code.PERMISSION_DENIED, "tap: only " + viz + " may tap this proxy"), true);
            }
        }

        private void observe(ChannelHandlerContext ctx) {
            if (hub.subscribers() >= MAX_SUBSCRIBERS) {
                end(ctx, GrpcStatus.of(GrpcStatus.Code.RESOURCE_EXHAUSTED, "tap: " + MAX_SUBSCRIBERS + " taps already open"), true);
                return;
            }
            log.info("proxy: tap opened by {} (limit {}, {})", who(ctx), request.limit(), request.match());
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200").set("content-type", GrpcMessages.CONTENT_TYPE), false));
            Channel stream = ctx.channel();
            int limit = request.limit() == 0 ? 100 : (int) Math.min(Integer.toUnsignedLong(request.limit()), MAX_LIMIT);
            subscriber = hub.subscribe(request.match(), limit,
                    // Events come from the request path; the stream writes on its own loop and drops what it cannot send now.
                    event -> stream.eventLoop().execute(() -> {
                        if (stream.isActive() && !answered && stream.isWritable()) {
                            stream.writeAndFlush(new DefaultHttp2DataFrame(GrpcMessages.frame(stream.alloc(), event), false));
                        }
                    }),
                    () -> stream.eventLoop().execute(() -> {
                        if (stream.isActive() && !answered) {
                            end(ctx, GrpcStatus.of(GrpcStatus.Code.OK, ""), false);
                        }
                    }));
        }

        /** Ends the call; every refusal passes here, and is logged here. */
        private void end(ChannelHandlerContext ctx, GrpcStatus status, boolean trailersOnly) {
            answered = true;
            if (!status.isOk()) {
                log.info("proxy: tap call from {} refused: {}", who(ctx), status);
            }
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(GrpcMessages.trailers(status, trailersOnly), true)).addListener(f -> ctx.close());
        }

        /** The caller, as a log names it: its address and its verified identity. */
        private String who(ChannelHandlerContext ctx) {
            return ctx.channel().parent().remoteAddress() + " ("
                    + MeshSslContexts.peerIdentity(ssl.engine().getSession()).map(WorkloadIdentity::toString).orElse("no identity") + ")";
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            answered = true;
            if (subscriber != null) {
                hub.unsubscribe(subscriber);
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("proxy: tap stream failed", cause);
            ctx.close();
        }
    }
}
