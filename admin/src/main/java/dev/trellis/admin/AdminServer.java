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
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
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
import io.netty.handler.codec.http.QueryStringDecoder;
import dev.trellis.core.version.TrellisVersion;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 server for health checks and metrics.
 *
 * <p>Routes: {@code GET /live} (200 while the process runs), {@code GET /ready} (200 or 503
 * with the reason), {@code GET /metrics} (Prometheus text format of the given registry).
 * {@code /debug/threads} (a thread dump) exists only when built with {@code debug(true)};
 * without it every {@code /debug/...} path is a plain 404, so nothing reveals that debug
 * pages exist at all.
 *
 * <p>Limits: request line 4 KiB, headers 8 KiB, body 0 (bodies are refused), 64 open
 * connections, {@value #REQUEST_DEADLINE_SECONDS} s to send a whole request, counted from the
 * connection (or the previous answer) and not extended by trickling bytes. When all 64 are
 * open, a new connection closes the oldest one still waiting for its request, so that a
 * slowloris client cannot keep the kubelet's probes out (an outside review saw {@code /ready}
 * fail 61 times in 76 under such a flood). Start with {@link #start}; stop with {@link #close}.
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    static final int MAX_INITIAL_LINE = 4096;
    static final int MAX_HEADER_BYTES = 8192;
    static final int MAX_CONNECTIONS = 64;
    static final int REQUEST_DEADLINE_SECONDS = 5;

    private final HostPort listen;
    private final PrometheusRegistry registry;
    private final Readiness readiness;
    private final boolean debug;
    private final byte[] shutdownToken;
    private final Runnable shutdownAction;
    private final String component;
    private final Info buildInfo;
    private final OpenConnections connections = new OpenConnections(MAX_CONNECTIONS);
    private EventLoopGroup group;
    private Channel channel;

    private AdminServer(Builder builder) {
        this.listen = requireNonNull(builder.listen, "listen");
        this.registry = requireNonNull(builder.registry, "registry");
        this.readiness = requireNonNull(builder.readiness, "readiness");
        this.debug = builder.debug;
        this.shutdownToken = builder.shutdownToken == null ? null : builder.shutdownToken.getBytes(StandardCharsets.UTF_8);
        this.shutdownAction = builder.shutdownAction;
        this.component = requireNonNull(builder.component, "component");
        this.buildInfo = Info.builder().name("trellis_build_info")
                .help("Trellis version of this component; always 1")
                .labelNames("component", "version")
                .build();
        buildInfo.setLabelValues(component, TrellisVersion.current());
    }

    public static Builder builder(String component) {
        return new Builder(component);
    }

    /** Binds the listener. */
    public AdminServer start() throws InterruptedException {
        if (!listen.isLoopback()) {
            log.warn("{}: admin listener on {} is not loopback; /metrics and /ready are reachable from the network", component, listen);
        }
        registry.register(buildInfo);
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (!connections.admit(ch)) {
                            log.warn("{}: admin listener full ({} connections all busy); refusing {}", component, MAX_CONNECTIONS, ch.remoteAddress());
                            ch.close();
                            return;
                        }
                        ch.pipeline()
                                .addLast(new RequestDeadline(Duration.ofSeconds(REQUEST_DEADLINE_SECONDS), connections))
                                .addLast(new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_BYTES, 8192))
                                .addLast(new HttpServerKeepAliveHandler())
                                .addLast(new HttpObjectAggregator(0))
                                .addLast(new Routes());
                    }
                });
        try {
            channel = bootstrap.bind(listen.toSocketAddress()).sync().channel();
        } catch (Exception e) {
            registry.unregister(buildInfo);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IllegalStateException(component + ": cannot listen for admin on " + listen + ": " + e.getMessage(), e);
        }
        log.info("{}: admin listening on {}{}", component, address(), debug ? " (debug pages ON)" : "");
        return this;
    }

    /** The bound address (the real port when started on port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().syncUninterruptibly();
        }
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            registry.unregister(buildInfo);
        }
    }

    private final class Routes extends SimpleChannelInboundHandler<FullHttpRequest> {

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            RequestDeadline.requestComplete(ctx);
            if (!request.decoderResult().isSuccess()) {
                respond(ctx, request, HttpResponseStatus.BAD_REQUEST, "text/plain", "bad request: " + request.decoderResult().cause().getMessage() + "\n", true);
                return;
            }
            String path = new QueryStringDecoder(request.uri()).path();
            if (path.equals("/shutdown") && shutdownAction != null) {
                shutdown(ctx, request);
                return;
            }
            boolean known = switch (path) {
                case "/live", "/ready", "/metrics" -> true;
                case "/debug/threads" -> debug;
                default -> false;
            };
            if (!known) {
                notFound(ctx, request);
                return;
            }
            if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
                respond(ctx, request, HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain", "only GET is served here\n", false);
                return;
            }
            switch (path) {
                case "/live" -> respond(ctx, request, HttpResponseStatus.OK, "text/plain", "live\n", false);
                case "/ready" -> {
                    Optional<String> reason = readiness.notReadyReason();
                    if (reason.isEmpty()) {
                        respond(ctx, request, HttpResponseStatus.OK, "text/plain", "ready\n", false);
                    } else {
                        respond(ctx, request, HttpResponseStatus.SERVICE_UNAVAILABLE, "text/plain", "not ready: " + reason.get() + "\n", false);
                    }
                }
                case "/metrics" -> respond(ctx, request, HttpResponseStatus.OK, PrometheusTextFormatWriter.CONTENT_TYPE, metrics(), false);
                case "/debug/threads" -> respond(ctx, request, HttpResponseStatus.OK, "text/plain", threadDump(), false);
                default -> notFound(ctx, request);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("{}: admin connection from {} failed: {}", component, ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }

        private void shutdown(ChannelHandlerContext ctx, FullHttpRequest request) {
            if (!request.method().equals(HttpMethod.POST)) {
                respond(ctx, request, HttpResponseStatus.METHOD_NOT_ALLOWED, "text/plain", "POST only\n", false);
                return;
            }
            String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
            if (authorization == null || !authorization.startsWith("Bearer ")) {
                log.warn("{}: /shutdown from {} without a bearer token refused", component, ctx.channel().remoteAddress());
                respond(ctx, request, HttpResponseStatus.UNAUTHORIZED, "text/plain", "shutdown needs Authorization: Bearer <token>\n", false);
                return;
            }
            byte[] offered = authorization.substring("Bearer ".length()).strip().getBytes(StandardCharsets.UTF_8);
            if (!java.security.MessageDigest.isEqual(offered, shutdownToken)) {
                log.warn("{}: /shutdown from {} with a wrong token refused", component, ctx.channel().remoteAddress());
                respond(ctx, request, HttpResponseStatus.FORBIDDEN, "text/plain", "wrong shutdown token\n", false);
                return;
            }
            log.info("{}: shutdown requested through the admin listener", component);
            respond(ctx, request, HttpResponseStatus.ACCEPTED, "text/plain", "shutting down\n", true);
            Thread.ofPlatform().name(component + "-admin-shutdown").start(shutdownAction);
        }

        private void notFound(ChannelHandlerContext ctx, FullHttpRequest request) {
            respond(ctx, request, HttpResponseStatus.NOT_FOUND, "text/plain", "not found\n", false);
        }
    }

    private String metrics() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String threadDump() {
        StringBuilder out = new StringBuilder();
        for (ThreadInfo info : ManagementFactory.getThreadMXBean().dumpAllThreads(false, false)) {
            out.append(info);
        }
        return out.toString();
    }

    private static void respond(ChannelHandlerContext ctx, FullHttpRequest request, HttpResponseStatus status,
                                String contentType, String body, boolean close) {
        ByteBuf content = request.method().equals(HttpMethod.HEAD)
                ? Unpooled.EMPTY_BUFFER : Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
                .set("X-Content-Type-Options", "nosniff")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        boolean keepAlive = !close && HttpUtil.isKeepAlive(request);
        HttpUtil.setKeepAlive(response, keepAlive);
        if (!keepAlive) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.writeAndFlush(response);
        }
    }

    /** Builds an {@link AdminServer}. */
    public static final class Builder {
        private final String component;
        private HostPort listen = new HostPort("127.0.0.1", 0);
        private PrometheusRegistry registry = new PrometheusRegistry();
        private Readiness readiness = Optional::empty;
        private boolean debug;
        private String shutdownToken;
        private Runnable shutdownAction;

        private Builder(String component) {
            this.component = component;
        }

        public Builder listen(HostPort listen) {
            this.listen = listen;
            return this;
        }

        public Builder registry(PrometheusRegistry registry) {
            this.registry = registry;
            return this;
        }

        public Builder readiness(Readiness readiness) {
            this.readiness = readiness;
            return this;
        }

        /** Serves {@code /debug/*} pages; off unless the operator asked with {@code --debug}. */
        public Builder debug(boolean debug) {
            this.debug = debug;
            return this;
        }

        /**
         * Serves {@code POST /shutdown}, which runs {@code action} when the request carries
         * {@code Authorization: Bearer <token>}. Without this call the path does not exist
         * (threat-model finding 4).
         */
        public Builder shutdown(String token, Runnable action) {
            if (token == null || token.length() < 16) {
                throw new IllegalArgumentException(component + ": the shutdown token must have at least 16 characters");
            }
            this.shutdownToken = token;
            this.shutdownAction = requireNonNull(action, "action");
            return this;
        }

        public AdminServer build() {
            return new AdminServer(this);
        }
    }
}
