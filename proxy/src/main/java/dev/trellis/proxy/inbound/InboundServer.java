package dev.trellis.proxy.inbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.detect.Detection;
import dev.trellis.proxy.detect.ProtocolDetector;
import dev.trellis.proxy.http.HttpInbound;
import dev.trellis.proxy.metrics.ProxyMetrics;
import dev.trellis.proxy.policy.InboundPolicy;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.ByteCounter;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.MeshProtocols;
import dev.trellis.proxy.transport.OriginalDestination;
import dev.trellis.proxy.transport.TransportHeader;
import dev.trellis.proxy.transport.TransportHeaderDecoder;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound listener (default 0.0.0.0:4143).
 *
 * <p>Every connection to an app port (opaque mesh TCP, redirected plaintext) and every HTTP
 * request is authorized by the {@link InboundPolicy} first.
 *
 * <p>Pipeline of an accepted connection, in order, and why:
 * <ol>
 *   <li>a read timeout — a peer that stalls before its transport header is cut off;</li>
 *   <li>the {@link ProtocolDetector} — a mesh peer opens with a TLS ClientHello whose SNI is
 *       this proxy's identity; anything else is not mesh traffic;</li>
 *   <li>for mesh traffic: mTLS (client certificate required, verified against the trust
 *       anchors), then ALPN picks the transport; for opaque TCP the
 *       {@link TransportHeaderDecoder} reads which local port the client wants;</li>
 *   <li>a connection to the app on {@code appHost:port}, joined byte for byte.</li>
 * </ol>
 * Traffic without mesh TLS is accepted only when iptables redirected it here (it has an
 * original destination) and its port is not a {@code require-identity} port; it then goes
 * to the app's port as it is. The proxy's own ports are never forwarded to, so a peer
 * cannot reach the admin listener through the mesh.
 */
public final class InboundServer {

    private static final Logger log = LoggerFactory.getLogger(InboundServer.class);

    /** How the listener behaves. */
    public record Settings(HostPort listen, String appHost, Duration detectTimeout, Duration connectTimeout,
                           Duration headerTimeout, Set<Integer> protectedPorts, Set<Integer> requireIdentityPorts, Set<Integer> opaquePorts) {
        public Settings {
            requireNonNull(listen, "listen");
            requireNonNull(appHost, "appHost");
            protectedPorts = Set.copyOf(protectedPorts);
            requireIdentityPorts = Set.copyOf(requireIdentityPorts);
            opaquePorts = Set.copyOf(opaquePorts);
        }
    }

    private final Settings settings;
    private final IoRuntime io;
    private final WorkloadIdentity self;
    private final SslContext serverContext;
    private final ProxyMetrics metrics;
    private final HttpInbound http;
    private final InboundPolicy policy;
    private BoundListener listener;

    private InboundServer(Settings settings, IoRuntime io, CredentialsStore store, ProxyMetrics metrics, HttpInbound http, InboundPolicy policy,
                          Clock clock) throws SSLException {
        this.settings = settings;
        this.http = http;
        this.policy = policy;
        this.io = io;
        this.self = store.identity();
        this.serverContext = MeshSslContexts.forServer(store, ClientAuth.REQUIRE, MeshProtocols.INBOUND, clock);
        this.metrics = metrics;
    }

    /** Binds the listener. */
    public static InboundServer start(Settings settings, IoRuntime io, CredentialsStore store, ProxyMetrics metrics, HttpInbound http,
                                      InboundPolicy policy, Clock clock) throws SSLException, InterruptedException {
        InboundServer server = new InboundServer(settings, io, store, metrics, http, policy, clock);
        server.bind();
        return server;
    }

    private void bind() throws InterruptedException {
        listener = BoundListener.bind(io, settings.listen(), "inbound", true, ch -> {
                ch.pipeline().addLast("header-timeout", new ReadTimeoutHandler(settings.headerTimeout().toMillis(), TimeUnit.MILLISECONDS));
                // A redirected connection to an opaque port (a server-speaks-first protocol,
                // say) is app traffic: waiting for the client's first bytes would stall it.
                // Mesh peers dial the inbound port itself (the destination service announces
                // it for opaque ports), so they never arrive this way.
                Optional<InetSocketAddress> original = OriginalDestination.of(ch);
                if (original.isPresent() && settings.opaquePorts().contains(original.get().getPort())) {
                    ch.pipeline().addLast("opaque-passthrough", new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelActive(ChannelHandlerContext ctx) {
                            ctx.pipeline().remove(this);
                            plaintext(ctx, Detection.of(Detection.Protocol.OPAQUE), original);
                        }
                    });
                    return;
                }
                ch.pipeline().addLast("detect", new ProtocolDetector(settings.detectTimeout(), InboundServer.this::detected));
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


    private void detected(ChannelHandlerContext ctx, Detection detection) {
        if (detection.protocol() == Detection.Protocol.TLS && detection.sni().filter(self.dnsName()::equals).isPresent()) {
            SslHandler ssl = serverContext.newHandler(ctx.alloc());
            ctx.pipeline().addLast("tls", ssl).addLast("alpn", new Transports(ssl));
            return;
        }
        // Not mesh traffic: in transparent mode it was redirected here on its way to the app.
        plaintext(ctx, detection, OriginalDestination.of(ctx.channel()));
    }

    private void plaintext(ChannelHandlerContext ctx, Detection detection, Optional<InetSocketAddress> original) {
        if (original.isEmpty() || original.get().getPort() == address().getPort()) {
            metrics.refused("inbound", "no_identity");
            log.debug("proxy: inbound from {} refused: {} without mesh TLS and without an original destination", ctx.channel().remoteAddress(), detection.protocol());
            ctx.close();
            return;
        }
        int port = original.get().getPort();
        if (settings.requireIdentityPorts().contains(port) || settings.protectedPorts().contains(port)) {
            metrics.refused("inbound", settings.protectedPorts().contains(port) ? "protected_port" : "no_identity");
            log.info("proxy: inbound {} from {} to port {} refused: the port requires a mesh identity", detection.protocol(), ctx.channel().remoteAddress(), port);
            ctx.close();
            return;
        }
        ctx.pipeline().remove("header-timeout");
        ctx.channel().config().setAutoRead(false);
        ctx.pipeline().addLast("pending", Relay.pending());
        Channel inbound = ctx.channel();
        policy.connection(port, Optional.empty(), sourceOf(inbound), inbound.eventLoop(), allowed -> {
            if (!allowed) {
                metrics.refused("inbound", "policy_denied");
                inbound.close();
                return;
            }
            connectToApp(inbound, port, new ProxyMetrics.Labels("inbound", "", false, null), "plaintext from " + inbound.remoteAddress());
        });
    }

    private static java.net.InetAddress sourceOf(Channel channel) {
        return ((InetSocketAddress) channel.remoteAddress()).getAddress();
    }

    /** Joins {@code inbound} (auto-read off, a pending handler last) to the app's {@code port}. */
    private void connectToApp(Channel inbound, int port, ProxyMetrics.Labels labels, String who) {
        new Bootstrap().group(inbound.eventLoop()).channel(io.channelType())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.connectTimeout().toMillis())
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("pending", Relay.pending());
                    }
                })
                .connect(new InetSocketAddress(settings.appHost(), port))
                .addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess()) {
                        metrics.refused("inbound", "app_connect_failed");
                        log.info("proxy: inbound {}: app port {}:{} refused: {}", who, settings.appHost(), port, Causes.rootMessage(connected.cause()));
                        inbound.close();
                        return;
                    }
                    if (!inbound.isActive()) {
                        connected.channel().close();
                        return;
                    }
                    metrics.opened(labels);
                    log.debug("proxy: inbound {} joined to app port {}", who, port);
                    Relay.Counts counts = Relay.join(inbound, connected.channel());
                    inbound.closeFuture().addListener(f -> metrics.closed(labels, counts.fromFirst(), counts.fromSecond()));
                });
    }

    /** After the handshake, ALPN picks the transport. */
    private final class Transports extends ApplicationProtocolNegotiationHandler {
        private final SslHandler ssl;

        Transports(SslHandler ssl) {
            super("none");
            this.ssl = ssl;
        }

        @Override
        protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
            Optional<WorkloadIdentity> client = MeshSslContexts.peerIdentity(ssl.engine().getSession());
            if (client.isEmpty()) {
                metrics.refused("inbound", "no_client_identity");
                ctx.close();
                return;
            }
            if (MeshProtocols.OPAQUE_TCP.equals(protocol)) {
                ctx.pipeline().addLast("transport-header", new TransportHeaderDecoder())
                        .addLast("opaque", new OpaqueForward(client.get()));
            } else if (MeshProtocols.HTTP2.equals(protocol)) {
                ctx.pipeline().remove("header-timeout");
                Optional<Integer> originalPort = OriginalDestination.of(ctx.channel()).map(InetSocketAddress::getPort)
                        .filter(port -> port != address().getPort());
                // Requests are counted per stream; the connection itself feeds the tcp_* metrics.
                ProxyMetrics.Labels labels = new ProxyMetrics.Labels("inbound", "", true, client.get().spiffeId());
                ProxyMetrics.Bytes counters = metrics.bytes(labels);
                ctx.pipeline().addAfter("tls", "bytes", new ByteCounter(counters.read()::inc, counters.written()::inc));
                metrics.opened(labels);
                ctx.channel().closeFuture().addListener(f -> metrics.closed(labels, 0, 0));
                http.install(ctx.channel(), client.get(), originalPort);
            } else {
                metrics.refused("inbound", "unsupported_transport");
                log.warn("proxy: inbound from {} ({}) asked for transport '{}', which this proxy does not serve yet",
                        ctx.channel().remoteAddress(), client.get(), protocol);
                ctx.close();
            }
        }

        @Override
        protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            metrics.refused("inbound", "tls_handshake");
            log.info("proxy: inbound mTLS handshake from {} failed: {}", ctx.channel().remoteAddress(), Causes.rootMessage(cause));
            ctx.close();
        }
    }

    /** Reads the transport header, then joins the connection to the app's port. */
    private final class OpaqueForward extends ChannelInboundHandlerAdapter {
        private final WorkloadIdentity client;

        OpaqueForward(WorkloadIdentity client) {
            this.client = client;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof TransportHeader header)) {
                ReferenceCountUtil.release(msg);
                ctx.close();
                return;
            }
            if (settings.protectedPorts().contains(header.port())) {
                metrics.refused("inbound", "protected_port");
                log.warn("proxy: {} from {} asked for port {}, one of the proxy's own; refused", client, ctx.channel().remoteAddress(), header.port());
                ctx.close();
                return;
            }
            Channel inbound = ctx.channel();
            inbound.config().setAutoRead(false);
            inbound.pipeline().remove("header-timeout");
            ctx.pipeline().replace(this, "pending", Relay.pending());
            policy.connection(header.port(), Optional.of(client), sourceOf(inbound), inbound.eventLoop(), allowed -> {
                if (!allowed) {
                    metrics.refused("inbound", "policy_denied");
                    inbound.close();
                    return;
                }
                connectToApp(inbound, header.port(), new ProxyMetrics.Labels("inbound", header.name(), true, client.spiffeId()),
                        inbound.id() + " from " + client);
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof DecoderException) {
                metrics.refused("inbound", "bad_transport_header");
                log.info("proxy: inbound from {} ({}): {}", ctx.channel().remoteAddress(), client, Causes.rootMessage(cause));
            }
            ctx.close();
        }
    }



}
