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
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * One multiplexed HTTP/2-over-mTLS connection per meshed endpoint <em>and the identity
 * discovery announced for it</em>, opened on first use and reopened when it closes. The TLS
 * handshake checks the endpoint presents that identity; ALPN must settle on {@code h2}. When
 * discovery announces another identity at the same address, the next request opens a new
 * connection verified against the new identity, and the old ones are drained (GOAWAY: their
 * streams finish, none start) — a connection verified once must not go on carrying requests
 * for an identity it was never checked against. A connection whose server sent GOAWAY takes
 * no new streams either. Thread-safe.
 */
final class H2Connections implements AutoCloseable {


    private final IoRuntime io;
    private final SslContext clientContext;
    private final Duration connectTimeout;
    private final ConcurrentHashMap<Key, Future<Channel>> connections = new ConcurrentHashMap<>();
    private final java.util.function.Consumer<javax.net.ssl.SSLEngine> handshakes;

    /** {@code handshakes} learns of every finished handshake (metrics read the negotiated group off the engine). */
    H2Connections(IoRuntime io, SslContext clientContext, Duration connectTimeout, java.util.function.Consumer<javax.net.ssl.SSLEngine> handshakes) {
        this.handshakes = requireNonNull(handshakes, "handshakes");
        this.io = requireNonNull(io, "io");
        this.clientContext = requireNonNull(clientContext, "clientContext");
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
    }

    /** A connection is for one address and the one identity its handshake verified. */
    private record Key(InetSocketAddress address, WorkloadIdentity identity) {}

    /** The connection to {@code endpoint} as its identity, connecting when there is none (or it closed). */
    public Future<Channel> connection(Endpoint endpoint, EventLoop loop) {
        Key key = new Key(endpoint.dialAddress(), endpoint.identity().orElseThrow());
        Future<Channel> existing = connections.get(key);
        if (existing != null && (!existing.isDone() || (existing.isSuccess() && takesNewStreams(existing.getNow())))) {
            return existing;
        }
        drainOthersAt(key);
        Future<Channel> fresh = connect(endpoint, loop);
        connections.put(key, fresh);
        fresh.addListener(f -> {
            if (!f.isSuccess()) {
                connections.remove(key, fresh);
            } else {
                ((Channel) f.getNow()).closeFuture().addListener(c -> connections.remove(key, fresh));
            }
        });
        return fresh;
    }

    /** Connections to the same address verified as another identity: no new streams, closed once theirs finish. */
    private void drainOthersAt(Key key) {
        connections.forEach((other, connection) -> {
            if (other.address().equals(key.address()) && !other.identity().equals(key.identity()) && connections.remove(other, connection)) {
                drain(connection);
            }
        });
    }

    /**
     * Drains every connection to an endpoint (address and identity) that is not in {@code inUse}
     * — what discovery holds now for every authority: an endpoint removed, or announced as
     * another identity, keeps no connection open.
     */
    public void retainOnly(Set<Endpoint> inUse) {
        Set<Key> wanted = inUse.stream().filter(e -> e.identity().isPresent())
                .map(e -> new Key(e.dialAddress(), e.identity().get())).collect(Collectors.toSet());
        connections.forEach((key, connection) -> {
            if (!wanted.contains(key) && connections.remove(key, connection)) {
                drain(connection);
            }
        });
    }

    /** No new streams; closed once its streams end. */
    private static void drain(Future<Channel> connection) {
        connection.addListener(f -> {
            if (f.isSuccess()) {
                Channel channel = (Channel) f.getNow();
                IoRuntime.runOn(channel.eventLoop(), () -> {
                    H2Connection handler = H2Connection.of(channel);
                    if (handler != null) {
                        handler.stopNewStreams();
                    }
                });
                // Netty's HTTP/2 close is graceful: GOAWAY, then the close once the open streams end (30 s at most).
                channel.close();
            }
        });
    }

    /** Open, and neither side has said GOAWAY (on the connection's loop: the proxy has one). */
    private static boolean takesNewStreams(Channel channel) {
        H2Connection connection = H2Connection.of(channel);
        return connection != null && connection.takesNewStreams();
    }

    private Future<Channel> connect(Endpoint endpoint, EventLoop loop) {
        Promise<Channel> ready = loop.newPromise();
        WorkloadIdentity identity = endpoint.identity().orElseThrow();
        SslHandler[] ssl = new SslHandler[1];
        new Bootstrap().group(loop).channel(io.channelType())
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
                })
                .connect(endpoint.dialAddress())
                .addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess()) {
                        ready.tryFailure(ConnectFailures.of(endpoint, ProxyError.CONNECT_FAILED, "connect failed: " + Causes.rootMessage(connected.cause())));
                        return;
                    }
                    ssl[0].handshakeFuture().addListener(handshake -> {
                        if (!handshake.isSuccess()) {
                            connected.channel().close();
                            ready.tryFailure(ConnectFailures.handshake(endpoint, handshake.cause()));
                            return;
                        }
                        handshakes.accept(ssl[0].engine());
                        if (!MeshProtocols.HTTP2.equals(ssl[0].applicationProtocol())) {
                            connected.channel().close();
                            ready.tryFailure(ConnectFailures.of(endpoint, ProxyError.CONNECT_FAILED, "its proxy does not speak h2"));
                        } else {
                            ready.trySuccess(connected.channel());
                        }
                    });
                });
        return ready;
    }

    @Override
    public void close() {
        for (Future<Channel> connection : connections.values()) {
            if (connection.isSuccess()) {
                connection.getNow().close();
            }
        }
        connections.clear();
    }
}
