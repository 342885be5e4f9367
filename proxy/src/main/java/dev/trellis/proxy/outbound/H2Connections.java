package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.proxy.discovery.Endpoint;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.http.BatchedFlushes;
import dev.trellis.proxy.transport.ConnectFailures;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.MeshProtocols;
import dev.trellis.proxy.h2.H2Connection;
import dev.trellis.proxy.h2.H2ConnectionPool;
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
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The HTTP/2-over-mTLS connections to meshed endpoints, by endpoint <em>and the identity
 * discovery announced for it</em>: opened on first use, reopened when they close, another one
 * opened when one is at the endpoint's limit of concurrent streams ({@link H2ConnectionPool}).
 * The TLS handshake checks the endpoint presents that identity; ALPN must settle on {@code h2}.
 * When discovery announces another identity at the same address, the next request opens a new
 * connection verified against the new identity, and the old ones are drained (GOAWAY: their
 * streams finish, none start) — a connection verified once must not go on carrying requests
 * for an identity it was never checked against. A connection whose server sent GOAWAY takes
 * no new streams either. Thread-safe.
 */
final class H2Connections implements EndpointStreams.Connections, AutoCloseable {

    private final IoRuntime io;
    private final SslContext clientContext;
    private final Duration connectTimeout;
    private final H2ConnectionPool<Key> pool = new H2ConnectionPool<>(this::connect);
    private final java.util.function.Consumer<javax.net.ssl.SSLEngine> handshakes;

    /** {@code handshakes} learns of every finished handshake (metrics read the negotiated group off the engine). */
    H2Connections(IoRuntime io, SslContext clientContext, Duration connectTimeout, java.util.function.Consumer<javax.net.ssl.SSLEngine> handshakes) {
        this.handshakes = requireNonNull(handshakes, "handshakes");
        this.io = requireNonNull(io, "io");
        this.clientContext = requireNonNull(clientContext, "clientContext");
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
    }

    /**
     * A connection is for one address and the one identity its handshake verified; the
     * endpoint it was first made for names it in failures.
     */
    private record Key(InetSocketAddress address, WorkloadIdentity identity, Endpoint endpoint) {
        Key(Endpoint endpoint) {
            this(endpoint.dialAddress(), endpoint.identity().orElseThrow(), endpoint);
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Key key && key.address.equals(address) && key.identity.equals(identity);
        }

        @Override
        public int hashCode() {
            return address.hashCode() * 31 + identity.hashCode();
        }
    }

    /** A connection to {@code endpoint} as its identity that takes a new stream, connecting when there is none. */
    @Override
    public Future<Channel> connection(Endpoint endpoint, EventLoop loop) {
        Key key = new Key(endpoint);
        if (pool.size(key) == 0) {
            // Connections to the same address verified as another identity: no new streams, closed once theirs finish.
            pool.drainIf(other -> other.address().equals(key.address()) && !other.identity().equals(key.identity()));
        }
        return pool.connection(key, loop);
    }

    /**
     * Drains every connection to an endpoint (address and identity) that is not in {@code inUse}
     * — what discovery holds now for every authority: an endpoint removed, or announced as
     * another identity, keeps no connection open.
     */
    public void retainOnly(Set<Endpoint> inUse) {
        Set<Key> wanted = inUse.stream().filter(e -> e.identity().isPresent())
                .map(Key::new).collect(Collectors.toSet());
        pool.drainIf(key -> !wanted.contains(key));
    }

    private Future<Channel> connect(Key key, EventLoop loop) {
        Endpoint endpoint = key.endpoint();
        Promise<Channel> ready = loop.newPromise();
        WorkloadIdentity identity = key.identity();
        SslHandler[] ssl = new SslHandler[1];
        io.connect(new Bootstrap().group(loop)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ssl[0] = clientContext.newHandler(ch.alloc(), identity.dnsName(), endpoint.dialAddress().getPort());
                        ch.pipeline().addLast("tls", ssl[0])
                                .addLast("flushes", BatchedFlushes.perLoopRound())
                                // After the server's GOAWAY, streams it accepted finish and new ones go elsewhere.
                                .addLast("h2", H2Connection.client().build());
                    }
                }), endpoint.dialAddress())
                .addListener((Future<Channel> connected) -> {
                    if (!connected.isSuccess()) {
                        ready.tryFailure(ConnectFailures.of(endpoint, ProxyError.CONNECT_FAILED, "connect failed: " + Causes.rootMessage(connected.cause())));
                        return;
                    }
                    ssl[0].handshakeFuture().addListener(handshake -> {
                        if (!handshake.isSuccess()) {
                            connected.getNow().close();
                            ready.tryFailure(ConnectFailures.handshake(endpoint, handshake.cause()));
                            return;
                        }
                        handshakes.accept(ssl[0].engine());
                        if (!MeshProtocols.HTTP2.equals(ssl[0].applicationProtocol())) {
                            connected.getNow().close();
                            ready.tryFailure(ConnectFailures.of(endpoint, ProxyError.CONNECT_FAILED, "its proxy does not speak h2"));
                        } else {
                            ready.trySuccess(connected.getNow());
                        }
                    });
                });
        return ready;
    }

    @Override
    public void close() {
        pool.close();
    }
}
