package dev.trellis.proxy.inbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.h2.H2Connection;
import dev.trellis.proxy.h2.H2ConnectionPool;
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

/**
 * HTTP/2 (prior knowledge, plaintext inside the pod) connections to the app, by address:
 * reopened when they close, another opened when one is at the app's limit of concurrent
 * streams ({@link H2ConnectionPool}). Thread-safe.
 */
final class H2cAppConnections implements AutoCloseable {

    private final IoRuntime io;
    private final Duration connectTimeout;
    private final H2ConnectionPool<InetSocketAddress> pool = new H2ConnectionPool<>(this::connect);

    H2cAppConnections(IoRuntime io, Duration connectTimeout) {
        this.io = requireNonNull(io, "io");
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
    }

    /** A connection to the app at {@code port} that takes a new stream, connecting when there is none. */
    Future<Channel> connection(InetSocketAddress port, EventLoop loop) {
        return pool.connection(port, loop);
    }

    private Future<Channel> connect(InetSocketAddress port, EventLoop loop) {
        Promise<Channel> ready = loop.newPromise();
        io.connect(new Bootstrap().group(loop)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(BatchedFlushes.perLoopRound(), H2Connection.client().build());
                    }
                }), port)
                .addListener((Future<Channel> connected) -> {
                    if (connected.isSuccess()) {
                        ready.trySuccess(connected.getNow());
                    } else {
                        ready.tryFailure(ProxyError.APP_CONNECT_FAILED.because(port + ": " + Causes.rootMessage(connected.cause())));
                    }
                });
        return ready;
    }

    @Override
    public void close() {
        pool.close();
    }
}
