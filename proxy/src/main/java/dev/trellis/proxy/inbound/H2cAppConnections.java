package dev.trellis.proxy.inbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.h2.H2Connection;
import dev.trellis.proxy.http.BatchedFlushes;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/** One HTTP/2 (prior knowledge, plaintext inside the pod) connection per app address, reopened when it closes. Thread-safe. */
final class H2cAppConnections implements AutoCloseable {

    private final IoRuntime io;
    private final Duration connectTimeout;
    private final ConcurrentHashMap<InetSocketAddress, Future<Channel>> connections = new ConcurrentHashMap<>();

    H2cAppConnections(IoRuntime io, Duration connectTimeout) {
        this.io = requireNonNull(io, "io");
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
    }

    Future<Channel> connection(InetSocketAddress port, EventLoop loop) {
        Future<Channel> existing = connections.get(port);
        if (existing != null && (!existing.isDone() || (existing.isSuccess() && takesNewStreams(existing.getNow())))) {
            return existing;
        }
        Promise<Channel> ready = loop.newPromise();
        connections.put(port, ready);
        new Bootstrap().group(loop).channel(io.channelType())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(BatchedFlushes.perLoopRound(), H2Connection.client().build());
                    }
                })
                .connect(port)
                .addListener((ChannelFuture connected) -> {
                    if (connected.isSuccess()) {
                        ready.trySuccess(connected.channel());
                        connected.channel().closeFuture().addListener(f -> connections.remove(port, ready));
                    } else {
                        connections.remove(port, ready);
                        ready.tryFailure(ProxyError.APP_CONNECT_FAILED.because(port + ": " + Causes.rootMessage(connected.cause())));
                    }
                });
        return ready;
    }

    /** Open and not going away (on the connection's loop: the proxy has one). */
    private static boolean takesNewStreams(Channel channel) {
        H2Connection connection = H2Connection.of(channel);
        return connection != null && connection.takesNewStreams();
    }

    @Override
    public void close() {
        connections.values().forEach(f -> {
            if (f.isSuccess()) {
                f.getNow().close();
            }
        });
        connections.clear();
    }
}
