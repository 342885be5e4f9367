package dev.trellis.proxy.inbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.metrics.Direction;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.transport.HalfClosure;
import dev.trellis.proxy.connlog.ConnectionLog;
import dev.trellis.proxy.detect.Detection;
import dev.trellis.proxy.detect.ProtocolDetector;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.metrics.ProxyMetrics;
import dev.trellis.proxy.policy.InboundAuthorizer;
import dev.trellis.proxy.policy.InboundPolicy;
import dev.trellis.proxy.policy.InboundTargets;
import dev.trellis.proxy.tap.TapHub;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.tcp.RequestHead;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.ByteCounter;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.HeaderDeadline;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.MeshProtocols;
import dev.trellis.proxy.transport.Openings;
import dev.trellis.proxy.transport.OriginalDestination;
import dev.trellis.proxy.transport.TransportHeader;
import dev.trellis.proxy.transport.TransportHeaderDecoder;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.KeyExchange;
import dev.trellis.tls.context.MeshSslContexts;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.util.concurrent.Future;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound listener (default 0.0.0.0:4143).
 *
 * <p>An accepted connection, in order, and why:
 * <ol>
 *   <li>redirected by iptables (it has an original destination other than this listener):
 *       its port must be one the workload declares ({@link InboundTargets}); a port that is
 *       opaque (by flag or by its policy) is passed on at once, without waiting for the
 *       client to speak, since server-speaks-first protocols would stall;</li>
 *   <li>the {@link ProtocolDetector}: a mesh peer opens with a TLS ClientHello whose SNI is
 *       this proxy's identity; anything else is not mesh traffic, and a client silent until
 *       the detection timeout is treated as opaque, not closed;</li>
 *   <li>mesh traffic: a total deadline for the mTLS handshake and the transport header (a
 *       trickling client cannot extend it), mTLS with a client certificate chaining to the
 *       anchors, then ALPN picks the transport: opaque TCP with its
 *       {@link TransportHeaderDecoder}, or HTTP/2 ({@link HttpInbound});</li>
 *   <li>the target port again through {@link InboundTargets} (never a port of the proxy, never
 *       an undeclared one), the {@link InboundPolicy}, then a connection to the app at the
 *       address the traffic came for, joined byte for byte.</li>
 * </ol>
 * Traffic without mesh TLS is accepted only when it was redirected here and its port does
 * not require identity. Every refusal is counted and written to the connection log.
 */
public final class InboundServer {

    private static final Logger log = LoggerFactory.getLogger(InboundServer.class);

    /** How the listener behaves. */
    public record Settings(HostPort listen, Duration detectTimeout, Duration connectTimeout, Duration headerTimeout, Set<Integer> requireIdentityPorts,
                           int maxOpeningPerSource, KeyExchange keyExchange) {
        public Settings {
            requireNonNull(listen, "listen");
            requireNonNull(detectTimeout, "detectTimeout");
            requireNonNull(connectTimeout, "connectTimeout");
            requireNonNull(headerTimeout, "headerTimeout");
            requireIdentityPorts = Set.copyOf(requireIdentityPorts);
        }
    }

    private final Settings settings;
    private final IoRuntime io;
    private final WorkloadIdentity self;
    private final SslContext serverContext;
    private final ProxyMetrics metrics;
    private final HttpInbound http;
    private final InboundTargets targets;
    private final InboundPolicy policy;
    private final ConnectionLog connectionLog;
    private BoundListener listener;

    private InboundServer(Settings settings, IoRuntime io, CredentialsStore store, ProxyMetrics metrics, HttpInbound http, InboundTargets targets,
                          InboundPolicy policy, ConnectionLog connectionLog, Clock clock) throws SSLException {
        this.settings = settings;
        this.http = http;
        this.targets = targets;
        this.policy = policy;
        this.io = io;
        this.self = store.identity();
        this.serverContext = MeshSslContexts.forServer(store, ClientAuth.REQUIRE, MeshProtocols.INBOUND, clock, settings.keyExchange());
        this.metrics = metrics;
        this.connectionLog = connectionLog;
    }

    /** Who may read the proxy's metrics through this listener, and what they read. */
    public record ScrapeEndpoint(WorkloadIdentity scraper, java.util.function.Supplier<String> text) {
        public ScrapeEndpoint {
            requireNonNull(scraper, "scraper");
            requireNonNull(text, "text");
        }
    }

    /** What the HTTP path to the app reports to: its metrics, the metrics scrape it serves, and the tap. */
    public record HttpObservers(HttpMetrics metrics, ScrapeEndpoint scrape, TapHub tap) {
        public HttpObservers {
            requireNonNull(metrics, "metrics");
            requireNonNull(scrape, "scrape");
            requireNonNull(tap, "tap");
        }
    }

    /** Binds the listener. */
    public static InboundServer start(Settings settings, IoRuntime io, CredentialsStore store, ProxyMetrics metrics, HttpObservers observers,
                                      InboundTargets targets, InboundPolicy policy, ConnectionLog connectionLog, Clock clock)
            throws SSLException, InterruptedException {
        HttpInbound http = new HttpInbound(io, targets, settings.connectTimeout(), observers.metrics(), policy, observers.scrape(), observers.tap(),
                store.identity(), connectionLog);
        InboundServer server = new InboundServer(settings, io, store, metrics, http, targets, policy, connectionLog, clock);
        server.bind();
        return server;
    }

    private void bind() throws InterruptedException {
        listener = BoundListener.bind(io, settings.listen(), "inbound", true, Optional.of(new Openings(settings.maxOpeningPerSource())), ch -> {
            Instant start = Instant.now();
            Optional<InetSocketAddress> original = OriginalDestination.of(ch).filter(o -> o.getPort() != settings.listen().port()
                    && (listener == null || o.getPort() != address().getPort()));
            ch.config().setAutoRead(false);
            HalfClosure.allow(ch);
            ch.pipeline().addLast("pending", Relay.pending());
            if (original.isEmpty()) {
                detect(ch, start, Optional.empty());
                return;
            }
            // Redirected: only to a declared port; an opaque one is passed on before its first byte.
            int port = original.get().getPort();
            targets.resolve(port, original.get().getAddress(), ch.eventLoop(), target -> {
                switch (target) {
                    case InboundTargets.Target.Refused refused -> refuse(ch, start, Optional.empty(), original.get().toString(), "tcp", false, refused.why());
                    case InboundTargets.Target.App app -> policy.isOpaque(port, ch.eventLoop(), opaque -> {
                        if (opaque) {
                            plaintext(ch, start, app.address(), "opaque");
                        } else {
                            detect(ch, start, Optional.of(app.address()));
                        }
                    });
                }
            });
        });
        log.info("proxy: inbound listening on {} for {}", address(), self);
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    /** The bound listener and its connections, for draining. */
    public BoundListener listener() {
        return listener;
    }

    /** Reads the first bytes; {@code app} is where a redirected connection goes when it turns out not to be mesh traffic. */
    private void detect(Channel ch, Instant start, Optional<InetSocketAddress> app) {
        ProtocolDetector.detectThen(ch, settings.detectTimeout(), detection -> {
            // TLS for this proxy's identity is mesh traffic. So is any TLS dialled to the inbound port
            // itself: answering with this proxy's certificate lets a client that expected another
            // identity say precisely which it expected and which it met, instead of "connection closed".
            // Redirected TLS for another name is the app's own TLS, and goes to the app.
            boolean forMe = detection.sni().filter(self.dnsName()::equals).isPresent();
            if (detection.protocol() == Detection.Protocol.TLS && (forMe || app.isEmpty())) {
                mesh(ch, start);
            } else if (app.isPresent()) {
                plaintext(ch, start, app.get(), detection.timedOut() ? "opaque (silent for " + settings.detectTimeout() + ")" : detection.protocol().name());
            } else {
                refuse(ch, start, Optional.empty(), "inbound port", detection.protocol().name().toLowerCase(java.util.Locale.ROOT), false,
                        ProxyError.NO_IDENTITY.because("not mesh TLS for " + self + " (" + detection.protocol() + ") and not redirected to an app port"));
            }
        });
    }

    /**
     * Mesh traffic: the handshake and transport header must complete within the header
     * timeout, counted from now, however slowly the bytes come.
     */
    private void mesh(Channel ch, Instant start) {
        SslHandler ssl = serverContext.newHandler(ch.alloc());
        HeaderDeadline.arm(ch, settings.headerTimeout(), () -> {
            metrics.refused(Direction.INBOUND, ProxyError.HEADER_TIMEOUT.label());
            connectionLog.inboundRefusal(start, null, ConnectionLog.addressOf(ch), "inbound port", "tls", true, ProxyError.HEADER_TIMEOUT,
                    "mTLS handshake and transport header not done within " + settings.headerTimeout());
        });
        ch.pipeline().addBefore("pending", "tls", ssl).addBefore("pending", "alpn", new Transports(ssl, start));
        // The bytes detection looked at go through TLS now; what follows the handshake is the transport's.
        Relay.replay(ch);
        ch.config().setAutoRead(true);
    }

    /** Not mesh traffic, redirected to {@code app}: allowed only on ports that do not require identity, and by policy. */
    private void plaintext(Channel ch, Instant start, InetSocketAddress app, String what) {
        Openings.settle(ch);
        int port = app.getPort();
        if (settings.requireIdentityPorts().contains(port)) {
            refuse(ch, start, Optional.empty(), app.toString(), "tcp", false,
                    ProxyError.NO_IDENTITY.because("port " + port + " requires a mesh identity; " + what + " from " + ch.remoteAddress() + " has none"));
            return;
        }
        policy.connection(port, Optional.empty(), sourceOf(ch), ch.eventLoop(), allowed -> {
            if (allowed) {
                connectToApp(ch, app, new ProxyMetrics.Labels(Direction.INBOUND, "", false, null), "plaintext (" + what + ") from " + ch.remoteAddress());
            } else if (what.equals("HTTP1")) {
                // Not the whole port, but maybe this request: the kubelet's probes arrive so, one request per connection.
                plaintextRequest(ch, start, app);
            } else {
                refuse(ch, start, Optional.empty(), app.toString(), "tcp", false,
                        ProxyError.POLICY_DENIED.because("unauthenticated " + sourceOf(ch).getHostAddress() + " may not connect to port " + port));
            }
        });
    }

    /**
     * One plaintext HTTP/1 request on a port that unauthenticated callers may not use as a
     * whole: its routes may still admit it (the pod's own probe paths always are). Only a
     * GET or HEAD without a body, and only that one request: it goes to the app with
     * {@code Connection: close}, the app's answer comes back, and anything more the client
     * sends is dropped. Anything else is answered 403.
     */
    private void plaintextRequest(Channel ch, Instant start, InetSocketAddress app) {
        int port = app.getPort();
        InetAddress source = sourceOf(ch);
        RequestHead.read(ch, settings.headerTimeout(), head -> {
            Optional<PlaintextRequest> request = head.flatMap(PlaintextRequest::parse);
            if (request.isEmpty()) {
                forbid(ch, start, app, ProxyError.POLICY_DENIED.because("unauthenticated " + source.getHostAddress() + " may not connect to port " + port
                        + ", and its request is not a plain GET or HEAD a route could admit"));
                return;
            }
            policy.request(port, Optional.empty(), source, request.get().authorizerRequest(), ch.eventLoop(), verdict -> {
                if (verdict != InboundPolicy.Verdict.ALLOW) {
                    forbid(ch, start, app, ProxyError.POLICY_DENIED.because("unauthenticated " + source.getHostAddress() + " may not "
                            + request.get().method() + " " + InboundAuthorizer.pathOnly(request.get().path()) + " on port " + port));
                    return;
                }
                forwardOneRequest(ch, app, request.get());
            });
        });
    }

    /** Answers 403 with the reason (an HTTP client shows it), logs the refusal like any other, and closes. */
    private void forbid(Channel ch, Instant start, InetSocketAddress app, ProxyFailure why) {
        String body = why.error().text() + ": " + why.getMessage() + "\n";
        String answer = "HTTP/1.1 " + why.error().httpStatus() + " Forbidden\r\ncontent-type: text/plain\r\n" + MeshHeaders.PROXY_ERROR + ": "
                + why.error().text() + "\r\ncontent-length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\nconnection: close\r\n\r\n" + body;
        Relay.takePending(ch, new DiscardInbound()).forEach(ReferenceCountUtil::release);
        ch.writeAndFlush(Unpooled.copiedBuffer(answer, StandardCharsets.UTF_8)).addListener(f -> refuse(ch, start, Optional.empty(), app.toString(), "http", false, why));
    }

    private void forwardOneRequest(Channel client, InetSocketAddress app, PlaintextRequest request) {
        Relay.takePending(client, new DiscardInbound()).forEach(ReferenceCountUtil::release);
        io.connect(new Bootstrap().group(client.eventLoop())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.connectTimeout().toMillis())
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        client.writeAndFlush(msg);
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        client.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> client.close());
                    }
                }), app)
                .addListener((Future<Channel> connected) -> {
                    if (!connected.isSuccess()) {
                        metrics.refused(Direction.INBOUND, ProxyError.APP_CONNECT_FAILED.label());
                        log.info("proxy: inbound plaintext request from {}: app {} refused: {}", client.remoteAddress(), app, Causes.rootMessage(connected.cause()));
                        client.close();
                        return;
                    }
                    client.closeFuture().addListener(f -> connected.getNow().close());
                    connected.getNow().writeAndFlush(Unpooled.copiedBuffer(request.withConnectionClose(), StandardCharsets.ISO_8859_1));
                    // The client's further bytes are read and dropped; its close ends the app's side too.
                    client.config().setAutoRead(true);
                    log.debug("proxy: inbound plaintext {} {} from {} admitted by route", request.method(), request.path(), client.remoteAddress());
                });
    }

    /** Drops what a client sends after its one admitted request. */
    private static final class DiscardInbound extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }
    }

    private static InetAddress sourceOf(Channel channel) {
        return ((InetSocketAddress) channel.remoteAddress()).getAddress();
    }

    /** Counts, logs and writes the connection-log line of a refused connection, then closes it. */
    private void refuse(Channel ch, Instant start, Optional<WorkloadIdentity> client, String target, String protocol, boolean tls, ProxyFailure why) {
        metrics.refused(Direction.INBOUND, why.error().label());
        log.info("proxy: inbound from {}{} refused ({}): {}", ch.remoteAddress(), client.map(c -> " (" + c + ")").orElse(""), why.error().label(),
                why.getMessage());
        connectionLog.inboundRefusal(start, client.map(WorkloadIdentity::spiffeId).orElse(null), ConnectionLog.addressOf(ch), target, protocol, tls,
                why.error(), why.getMessage());
        ch.close();
    }

    /** Joins {@code inbound} (auto-read off, a pending handler last) to the app at {@code app}. */
    private void connectToApp(Channel inbound, InetSocketAddress app, ProxyMetrics.Labels labels, String who) {
        io.connect(new Bootstrap().group(inbound.eventLoop())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.connectTimeout().toMillis())
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("pending", Relay.pending());
                    }
                }), app)
                .addListener((Future<Channel> connected) -> {
                    if (!connected.isSuccess()) {
                        metrics.refused(Direction.INBOUND, ProxyError.APP_CONNECT_FAILED.label());
                        log.info("proxy: inbound {}: app {} refused: {}", who, app, Causes.rootMessage(connected.cause()));
                        inbound.close();
                        return;
                    }
                    if (!inbound.isActive()) {
                        connected.getNow().close();
                        return;
                    }
                    metrics.opened(labels);
                    log.debug("proxy: inbound {} joined to app {}", who, app);
                    Relay.Counts counts = Relay.join(inbound, connected.getNow());
                    inbound.closeFuture().addListener(f -> metrics.closed(labels, counts.fromFirst(), counts.fromSecond()));
                });
    }

    /** After the handshake, ALPN picks the transport. */
    private final class Transports extends ApplicationProtocolNegotiationHandler {
        private final SslHandler ssl;
        private final Instant start;

        Transports(SslHandler ssl, Instant start) {
            super("none");
            this.ssl = ssl;
            this.start = start;
        }

        @Override
        protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
            metrics.tlsHandshake(Direction.INBOUND, MeshSslContexts.negotiatedGroup(ssl.engine()));
            Optional<WorkloadIdentity> client = MeshSslContexts.peerIdentity(ssl.engine().getSession());
            if (client.isEmpty()) {
                refuse(ctx.channel(), start, Optional.empty(), "inbound port", "tls", true,
                        ProxyError.NO_CLIENT_IDENTITY.because("the client certificate names no mesh identity"));
                return;
            }
            if (MeshProtocols.OPAQUE_TCP.equals(protocol)) {
                ctx.pipeline().addLast("transport-header", new TransportHeaderDecoder())
                        .addLast("opaque", new OpaqueForward(client.get(), start));
            } else if (MeshProtocols.HTTP2.equals(protocol)) {
                HeaderDeadline.settle(ctx.channel());
                Optional<Integer> originalPort = OriginalDestination.of(ctx.channel()).map(InetSocketAddress::getPort)
                        .filter(port -> port != address().getPort());
                // Requests are counted per stream; the connection itself feeds the tcp_* metrics.
                ProxyMetrics.Labels labels = new ProxyMetrics.Labels(Direction.INBOUND, "", true, client.get().spiffeId());
                ProxyMetrics.Bytes counters = metrics.bytes(labels);
                ctx.pipeline().addAfter("tls", "bytes", new ByteCounter(counters.read()::inc, counters.written()::inc));
                metrics.opened(labels);
                ctx.channel().closeFuture().addListener(f -> metrics.closed(labels, 0, 0));
                http.install(ctx.channel(), client.get(), originalPort, settings.headerTimeout(), start);
            } else {
                refuse(ctx.channel(), start, client, "inbound port", "tls", true,
                        ProxyError.UNSUPPORTED_TRANSPORT.because("ALPN '" + protocol + "' is not a transport this proxy serves"));
            }
        }

        /** Before the handshake is done (after it, this handler is gone), the end of the client's input ends the handshake too. */
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof ChannelInputShutdownEvent) {
                if (!ctx.channel().isActive()) {
                    return;
                }
                refuse(ctx.channel(), start, Optional.empty(), "inbound port", "tls", true,
                        ProxyError.TLS_HANDSHAKE.because("the client ended its side before the handshake finished"));
                return;
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            refuse(ctx.channel(), start, Optional.empty(), "inbound port", "tls", true, ProxyError.TLS_HANDSHAKE.because(Causes.rootMessage(cause)));
        }
    }

    /** Reads the transport header, then joins the connection to the app's port. */
    private final class OpaqueForward extends ChannelInboundHandlerAdapter {
        private final WorkloadIdentity client;
        private final Instant start;

        OpaqueForward(WorkloadIdentity client, Instant start) {
            this.client = client;
            this.start = start;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof TransportHeader header)) {
                ReferenceCountUtil.release(msg);
                ctx.close();
                return;
            }
            Channel inbound = ctx.channel();
            inbound.config().setAutoRead(false);
            HeaderDeadline.settle(inbound);
            // Bytes after the header wait here until the app is connected.
            ctx.pipeline().replace(this, "pending", Relay.pending());
            InetAddress arrivedOn = ((InetSocketAddress) inbound.localAddress()).getAddress();
            targets.resolve(header.port(), arrivedOn, inbound.eventLoop(), target -> {
                switch (target) {
                    case InboundTargets.Target.Refused refused ->
                            refuse(inbound, start, Optional.of(client), "port " + header.port(), "opaque", true, refused.why());
                    case InboundTargets.Target.App app -> policy.connection(header.port(), Optional.of(client), sourceOf(inbound), inbound.eventLoop(), allowed -> {
                        if (!allowed) {
                            refuse(inbound, start, Optional.of(client), app.address().toString(), "opaque", true,
                                    ProxyError.POLICY_DENIED.because(client + " may not connect to port " + header.port()));
                            return;
                        }
                        connectToApp(inbound, app.address(), new ProxyMetrics.Labels(Direction.INBOUND, header.name(), true, client.spiffeId()),
                                inbound.id() + " from " + client);
                    });
                }
            });
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                if (!ctx.channel().isActive()) {
                    return;
                }
                refuse(ctx.channel(), start, Optional.of(client), "inbound port", "opaque", true,
                        ProxyError.BAD_TRANSPORT_HEADER.because("the client ended its side before a whole transport header"));
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof DecoderException) {
                refuse(ctx.channel(), start, Optional.of(client), "inbound port", "opaque", true, ProxyError.BAD_TRANSPORT_HEADER.because(Causes.rootMessage(cause)));
                return;
            }
            ctx.close();
        }
    }
}
