package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.proxy.discovery.Endpoint;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.transport.ConnectFailures;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.MeshProtocols;
import dev.trellis.proxy.transport.TransportHeader;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.time.Duration;

/**
 * Opens the connection to an endpoint for opaque TCP: to a meshed endpoint, mTLS to its
 * proxy — checking that it presents the identity discovery announced — with ALPN
 * {@value MeshProtocols#OPAQUE_TCP} and the transport header naming the target port; to an
 * unmeshed one, plain TCP to its address. The returned channel does not read until it is
 * joined ({@link Relay#join}); anything it decoded before that is held. Thread-safe.
 */
final class MeshConnector {

    private final IoRuntime io;
    private final SslContext clientContext;
    private final Duration connectTimeout;
    private final java.util.function.Consumer<javax.net.ssl.SSLEngine> handshakes;

    /** {@code handshakes} learns of every finished handshake (metrics read the negotiated group off the engine). */
    MeshConnector(IoRuntime io, SslContext clientContext, Duration connectTimeout, java.util.function.Consumer<javax.net.ssl.SSLEngine> handshakes) {
        this.handshakes = requireNonNull(handshakes, "handshakes");
        this.io = requireNonNull(io, "io");
        this.clientContext = requireNonNull(clientContext, "clientContext");
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
    }

    /** Connects on {@code loop}; the future fails with a message naming the endpoint and what went wrong. */
    public Future<Channel> connectOpaque(Endpoint endpoint, String authority, EventLoop loop) {
        Promise<Channel> ready = loop.newPromise();
        SslHandler[] ssl = new SslHandler[1];
        WorkloadIdentity identity = endpoint.identity().orElse(null);
        io.connect(new Bootstrap().group(loop)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (identity != null) {
                            ssl[0] = clientContext.newHandler(ch.alloc(), identity.dnsName(), endpoint.dialAddress().getPort());
                            ch.pipeline().addLast("tls", ssl[0]);
                        }
                        ch.pipeline().addLast("pending", Relay.pending());
                    }
                }), endpoint.dialAddress())
                .addListener((Future<Channel> connected) -> {
                    if (!connected.isSuccess()) {
                        ready.tryFailure(ConnectFailures.of(endpoint, ProxyError.CONNECT_FAILED, "connect failed: " + Causes.rootMessage(connected.cause())));
                        return;
                    }
                    Channel channel = connected.getNow();
                    if (identity == null) {
                        ready.trySuccess(channel);
                        return;
                    }
                    // The handshake needs reads even though auto-read is off.
                    channel.read();
                    ssl[0].handshakeFuture().addListener(handshake -> {
                        if (!handshake.isSuccess()) {
                            channel.close();
                            ready.tryFailure(ConnectFailures.handshake(endpoint, handshake.cause()));
                            return;
                        }
                        handshakes.accept(ssl[0].engine());
                        if (!MeshProtocols.OPAQUE_TCP.equals(ssl[0].applicationProtocol())) {
                            channel.close();
                            ready.tryFailure(ConnectFailures.of(endpoint, ProxyError.CONNECT_FAILED, "its proxy does not speak " + MeshProtocols.OPAQUE_TCP));
                            return;
                        }
                        channel.writeAndFlush(new TransportHeader(endpoint.address().getPort(), authority).encode(channel.alloc()))
                                .addListener(written -> {
                                    if (written.isSuccess()) {
                                        ready.trySuccess(channel);
                                    } else {
                                        channel.close();
                                        ready.tryFailure(ConnectFailures.of(endpoint, ProxyError.CONNECT_FAILED, "cannot send the transport header: "
                                                + Causes.rootMessage(written.cause())));
                                    }
                                });
                    });
                });
        return ready;
    }
}
