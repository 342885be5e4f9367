package dev.trellis.proxy.http;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.api.tap.v1.Peer;
import dev.trellis.api.tap.v1.RequestInit;
import dev.trellis.api.tap.v1.TapEvent;
import dev.trellis.proxy.policy.InboundAuthorizer;
import dev.trellis.proxy.policy.InboundPolicy;
import dev.trellis.proxy.tap.TapHub;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound HTTP path: an mTLS connection that negotiated {@code h2} carries requests as
 * HTTP/2 streams; each is handed to the app as an HTTP/1.1 request on the port named by
 * {@value MeshHeaders#TARGET_PORT} (or the connection's original destination), with
 * {@value MeshHeaders#CLIENT_ID} set to the caller's mesh identity and every other
 * mesh-internal header removed. HTTP/1.1 app connections are kept alive and pooled per port.
 */
public final class HttpInbound {

    private static final Logger log = LoggerFactory.getLogger(HttpInbound.class);

    private final IoRuntime io;
    private final String appHost;
    private final Set<Integer> protectedPorts;
    private final Duration connectTimeout;
    private final HttpMetrics metrics;
    private final H2cAppConnections appConnections;
    private final AppHttp1Pool appPool;
    private final InboundPolicy policy;
    private final ScrapeEndpoint scrape;
    private final TapHub tap;
    private final WorkloadIdentity self;

    /**
     * The proxy's own metrics over the inbound mTLS listener (threat-model findings 7 and 9):
     * a request with {@value MeshHeaders#TARGET_PORT} {@code proxy} and path {@code /metrics}
     * from the {@code scraper} identity gets them; anyone else gets 403.
     */
    public record ScrapeEndpoint(WorkloadIdentity scraper, java.util.function.Supplier<String> text) {}

    public HttpInbound(IoRuntime io, String appHost, Set<Integer> protectedPorts, Duration connectTimeout, HttpMetrics metrics, InboundPolicy policy,
                       ScrapeEndpoint scrape, TapHub tap, WorkloadIdentity self) {
        this.tap = requireNonNull(tap, "tap");
        this.self = requireNonNull(self, "self");
        this.policy = requireNonNull(policy, "policy");
        this.scrape = requireNonNull(scrape, "scrape");
        this.io = requireNonNull(io, "io");
        this.appHost = requireNonNull(appHost, "appHost");
        this.protectedPorts = Set.copyOf(protectedPorts);
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
        this.metrics = requireNonNull(metrics, "metrics");
        this.appConnections = new H2cAppConnections(io, appHost, connectTimeout);
        this.appPool = new AppHttp1Pool(io, appHost, connectTimeout);
    }

    /** Serves HTTP/2 on {@code connection}, whose client is {@code client}. */
    public void install(Channel connection, WorkloadIdentity client, Optional<Integer> originalPort) {
        connection.pipeline()
                .addLast("h2", Http2FrameCodecBuilder.forServer()
                        .gracefulShutdownTimeoutMillis(DrainHandlers.GRACEFUL_CLOSE_WAITS_FOR_STREAMS).build())
                .addLast("mux", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel stream) {
                        stream.pipeline().addLast("dispatch", new Dispatch(client, originalPort));
                    }
                }))
                .addLast("drain", DrainHandlers.http2());
    }

    /**
     * Looks at a stream's first headers: an app that speaks HTTP/2 (the client proxy says so)
     * gets the stream relayed frame by frame; otherwise the request becomes HTTP/1.1.
     */
    private final class Dispatch extends io.netty.channel.ChannelInboundHandlerAdapter {
        private final WorkloadIdentity client;
        private final Optional<Integer> originalPort;

        Dispatch(WorkloadIdentity client, Optional<Integer> originalPort) {
            this.client = client;
            this.originalPort = originalPort;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof io.netty.handler.codec.http2.Http2HeadersFrame headers)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            CharSequence appProtocol = headers.headers().get(MeshHeaders.APP_PROTOCOL);
            log.debug("proxy: inbound stream {} from {}: {} {} (app protocol {})", ctx.channel().id(), client, headers.headers().method(), headers.headers().path(), appProtocol);
            if (appProtocol == null || !"h2".contentEquals(appProtocol)) {
                ctx.pipeline().addAfter(ctx.name(), "to-app", new ToApp(client, originalPort))
                        .addAfter(ctx.name(), "aggregate", new HttpObjectAggregator(HttpOutbound.MAX_BODY_BYTES))
                        .addAfter(ctx.name(), "h1", new Http2StreamFrameToHttpObjectCodec(true));
                ctx.pipeline().remove(this);
                ctx.pipeline().fireChannelRead(msg);
                return;
            }
            relayToH2App(ctx, headers);
        }

        private void relayToH2App(ChannelHandlerContext ctx, io.netty.handler.codec.http2.Http2HeadersFrame headers) {
            Channel stream = ctx.channel();
            stream.config().setAutoRead(false);
            ctx.pipeline().replace(this, "held", Relay.pending());
            long started = System.nanoTime();
            String authority = headers.headers().authority() == null ? "" : headers.headers().authority().toString();
            metrics.request("inbound", authority);
            metrics.inboundFrom(client.spiffeId());
            io.netty.handler.codec.http2.Http2Headers forwarded = new io.netty.handler.codec.http2.DefaultHttp2Headers().add(headers.headers());
            Optional<Integer> port = Optional.ofNullable(forwarded.get(MeshHeaders.TARGET_PORT))
                    .map(CharSequence::toString).flatMap(HttpInbound::parsePort).or(() -> originalPort);
            MeshHeaders.strip(forwarded);
            forwarded.set(MeshHeaders.CLIENT_ID, client.spiffeId());
            if (port.isEmpty() || protectedPorts.contains(port.get())) {
                answerH2(stream, headers.headers(), 400, "no valid target port", authority, started);
                return;
            }
            InboundAuthorizer.Request request = new InboundAuthorizer.Request(String.valueOf(headers.headers().method()), String.valueOf(headers.headers().path()));
            policy.request(port.get(), Optional.of(client), sourceOf(stream), request, stream.eventLoop(), verdict -> {
                switch (verdict) {
                    case DENY -> answerH2(stream, headers.headers(), 403, "policy denied", authority, started);
                    case RATE_LIMITED -> answerH2(stream, headers.headers(), 429, "rate limited", authority, started);
                    case ALLOW -> toH2App(stream, headers, forwarded, port.get(), authority, started,
                            tapStart(stream, client, request.method(), authority, request.path(), port.get()));
                }
            });
        }

        private void toH2App(Channel stream, io.netty.handler.codec.http2.Http2HeadersFrame headers, io.netty.handler.codec.http2.Http2Headers forwarded,
                             int port, String authority, long started, TapHub.Tap tapped) {
            appConnections.connection(port, stream.eventLoop()).addListener(connected -> {
                if (!connected.isSuccess()) {
                    log.info("proxy: inbound HTTP/2 from {}: {}", client, Causes.rootMessage(connected.cause()));
                    answerH2(stream, headers.headers(), 502, "app connect refused", authority, started);
                    return;
                }
                new io.netty.handler.codec.http2.Http2StreamChannelBootstrap((Channel) connected.getNow()).open().addListener(opened -> {
                    if (!opened.isSuccess() || !stream.isActive()) {
                        answerH2(stream, headers.headers(), 502, "app connect refused", authority, started);
                        return;
                    }
                    Channel appStream = (Channel) opened.getNow();
                    log.debug("proxy: inbound stream {} joined to app stream {}", stream.id(), appStream.id());
                    appStream.config().setAutoRead(false);
                    appStream.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2HeadersFrame(forwarded, headers.isEndStream()));
                    ResponseStatus seen = new ResponseStatus();
                    appStream.pipeline().addFirst("status", seen);
                    StreamRelay.join(stream, appStream);
                    appStream.closeFuture().addListener(f -> {
                        metrics.response("inbound", authority, seen.status, seen.grpcStatus, Duration.ofNanos(System.nanoTime() - started));
                        tapped.end(seen.status, seen.grpcStatus, Optional.empty());
                    });
                });
            });
        }

        private void answerH2(Channel stream, io.netty.handler.codec.http2.Http2Headers request, int status, String cause, String authority, long started) {
            boolean grpc = ProxyErrors.isGrpc(request);
            metrics.response("inbound", authority, grpc ? 200 : status, grpc ? Optional.of(ProxyErrors.grpcCode(status)) : Optional.empty(),
                    Duration.ofNanos(System.nanoTime() - started));
            if (stream.isActive()) {
                stream.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2HeadersFrame(ProxyErrors.h2(status, cause, grpc), true))
                        // Done with this stream: closing it releases whatever of the request is still held or queued.
                        .addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    /** Starts tapping an inbound request (a no-op unless the viz identity is tapping this proxy). */
    private TapHub.Tap tapStart(Channel stream, WorkloadIdentity client, String method, String authority, String path, int port) {
        return tap.start(TapEvent.Direction.INBOUND,
                Peer.newBuilder().setAddress(sourceOf(stream).getHostAddress()).setIdentity(client.spiffeId()).build(),
                Peer.newBuilder().setAddress(appHost + ":" + port).setIdentity(self.spiffeId()).build(),
                RequestInit.newBuilder().setMethod(method).setScheme("http").setAuthority(authority).setPath(path).build(), port);
    }

    /** The caller's address: the mesh connection's peer (a stream's parent). */
    private static java.net.InetAddress sourceOf(Channel channel) {
        Channel connection = channel.parent() != null ? channel.parent() : channel;
        return ((java.net.InetSocketAddress) connection.remoteAddress()).getAddress();
    }

    static Optional<Integer> parsePort(String text) {
        try {
            int port = Integer.parseInt(text.strip());
            return port >= 1 && port <= 65535 ? Optional.of(port) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    private final class ToApp extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final WorkloadIdentity client;
        private final Optional<Integer> originalPort;

        ToApp(WorkloadIdentity client, Optional<Integer> originalPort) {
            super(false);
            this.client = client;
            this.originalPort = originalPort;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext stream, FullHttpRequest request) {
            long started = System.nanoTime();
            if (MeshHeaders.TARGET_PROXY.equals(request.headers().get(MeshHeaders.TARGET_PORT))) {
                request.release();
                serveSelf(stream, request);
                return;
            }
            Optional<Integer> port = targetPort(request);
            String authority = request.headers().get(HttpHeaderNames.HOST, "");
            metrics.request("inbound", authority);
            metrics.inboundFrom(client.spiffeId());
            if (port.isEmpty() || protectedPorts.contains(port.get())) {
                request.release();
                reply(stream, ProxyErrors.response(HttpResponseStatus.BAD_REQUEST, "no valid target port"), authority, started);
                return;
            }
            MeshHeaders.strip(request.headers());
            for (String name : request.headers().names().stream().filter(n -> n.startsWith("x-http2-")).toList()) {
                request.headers().remove(name);
            }
            request.headers().set(MeshHeaders.CLIENT_ID, client.spiffeId());
            InboundAuthorizer.Request asked = new InboundAuthorizer.Request(request.method().name(), request.uri());
            policy.request(port.get(), Optional.of(client), sourceOf(stream.channel()), asked, stream.channel().eventLoop(), verdict -> {
                switch (verdict) {
                    case DENY -> {
                        request.release();
                        reply(stream, ProxyErrors.response(HttpResponseStatus.FORBIDDEN, "policy denied"), authority, started);
                    }
                    case RATE_LIMITED -> {
                        request.release();
                        reply(stream, ProxyErrors.response(HttpResponseStatus.TOO_MANY_REQUESTS, "rate limited"), authority, started);
                    }
                    case ALLOW -> toApp(stream, request, port.get(), authority, started,
                            tapStart(stream.channel(), client, request.method().name(), authority, request.uri(), port.get()));
                }
            });
        }

        private void toApp(ChannelHandlerContext stream, FullHttpRequest request, int port, String authority, long started, TapHub.Tap tapped) {
            appPool.exchange(port, request, stream.channel().eventLoop()).addListener(done -> {
                if (done.isSuccess()) {
                    FullHttpResponse response = (FullHttpResponse) done.getNow();
                    response.headers().remove(HttpHeaderNames.CONNECTION);
                    response.headers().remove("keep-alive");
                    tapped.end(response.status().code(), Optional.empty(), Optional.empty());
                    reply(stream, response, authority, started);
                } else {
                    log.info("proxy: inbound HTTP from {} to app port {}:{} failed: {}", client, appHost, port, Causes.rootMessage(done.cause()));
                    tapped.end(502, Optional.empty(), Optional.of("app connect refused"));
                    reply(stream, ProxyErrors.response(HttpResponseStatus.BAD_GATEWAY, "app connect refused"), authority, started);
                }
            });
        }

        /** The proxy's own metrics, to the scraper identity only. */
        private void serveSelf(ChannelHandlerContext stream, FullHttpRequest request) {
            FullHttpResponse response;
            if (!IdentityPattern.exactly(scrape.scraper()).matches(client)) {
                log.info("proxy: {} asked for the proxy's metrics; only {} may", client, scrape.scraper());
                response = ProxyErrors.response(HttpResponseStatus.FORBIDDEN, "metrics are for the viz identity only");
            } else if (!request.method().equals(HttpMethod.GET) || !request.uri().equals("/metrics")) {
                response = ProxyErrors.response(HttpResponseStatus.NOT_FOUND, "the proxy serves GET /metrics only");
            } else {
                byte[] body = scrape.text().get().getBytes(java.nio.charset.StandardCharsets.UTF_8);
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
                        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            }
            if (stream.channel().isActive()) {
                stream.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            } else {
                response.release();
            }
        }

        private Optional<Integer> targetPort(FullHttpRequest request) {
            String header = request.headers().get(MeshHeaders.TARGET_PORT);
            if (header == null) {
                return originalPort;
            }
            try {
                int port = Integer.parseInt(header.strip());
                return port >= 1 && port <= 65535 ? Optional.of(port) : Optional.empty();
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }

        private void reply(ChannelHandlerContext stream, FullHttpResponse response, String authority, long started) {
            metrics.response("inbound", authority, response.status().code(), Duration.ofNanos(System.nanoTime() - started));
            if (!stream.channel().isActive()) {
                ReferenceCountUtil.release(response);
                return;
            }
            stream.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
