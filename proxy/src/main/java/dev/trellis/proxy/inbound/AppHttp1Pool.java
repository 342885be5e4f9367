package dev.trellis.proxy.inbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * Keep-alive HTTP/1.1 connections to the local app, per address: an exchange takes an idle
 * connection (one on its own event loop first) or opens one, puts its handler last in the
 * connection's pipeline, and gives the connection back when its response was whole and both
 * sides allow keep-alive. At most {@value #MAX_IDLE_PER_PORT} idle connections are kept per
 * address; an idle connection the app closes leaves the pool. Thread-safe.
 */
final class AppHttp1Pool implements AutoCloseable {

    static final int MAX_IDLE_PER_PORT = 64;
    private static final String EXCHANGE = "exchange";

    private final IoRuntime io;
    private final Duration connectTimeout;
    private final Map<InetSocketAddress, ArrayDeque<Channel>> idle = new HashMap<>();

    AppHttp1Pool(IoRuntime io, Duration connectTimeout) {
        this.io = requireNonNull(io, "io");
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
    }

    /**
     * A connection to the app at {@code port} whose reads go to {@code exchange} (added last,
     * replacing the previous exchange's); the future fails with
     * {@link ProxyError#APP_CONNECT_FAILED} naming the address. A new connection does not read
     * until the exchange turns auto-read on; a pooled one reads on (turning its epoll interest
     * off and on again per request cost two system calls), and nothing comes before the
     * exchange's request anyway.
     */
    Future<Channel> acquire(InetSocketAddress port, EventLoop loop, ChannelHandler exchange) {
        Promise<Channel> ready = loop.newPromise();
        Channel pooled = takeIdle(port, loop);
        if (pooled != null) {
            attach(pooled, exchange, ready);
            return ready;
        }
        new Bootstrap().group(loop).channel(io.channelType())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel app) {
                        app.pipeline().addLast("http1", new HttpClientCodec());
                    }
                })
                .connect(port)
                .addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess()) {
                        ready.tryFailure(ProxyError.APP_CONNECT_FAILED.because(port + ": " + Causes.rootMessage(connected.cause())));
                        return;
                    }
                    Channel app = connected.channel();
                    // Once per connection: an idle connection the app closes leaves the pool.
                    app.closeFuture().addListener(f -> forget(port, app));
                    attach(app, exchange, ready);
                });
        return ready;
    }

    private static void attach(Channel app, ChannelHandler exchange, Promise<Channel> ready) {
        Runnable attach = () -> {
            if (app.pipeline().get(EXCHANGE) != null) {
                app.pipeline().replace(EXCHANGE, EXCHANGE, exchange);
            } else {
                app.pipeline().addLast(EXCHANGE, exchange);
            }
            ready.trySuccess(app);
        };
        if (app.eventLoop().inEventLoop()) {
            attach.run();
        } else {
            app.eventLoop().execute(attach);
        }
    }

    /** {@code app}'s exchange ended cleanly: the connection waits for the next one (or closes, past the idle limit). */
    void giveBack(InetSocketAddress port, Channel app) {
        app.config().setAutoRead(true);
        if (!app.isActive()) {
            return;
        }
        synchronized (this) {
            ArrayDeque<Channel> channels = idle.computeIfAbsent(port, p -> new ArrayDeque<>());
            if (channels.size() < MAX_IDLE_PER_PORT) {
                channels.addLast(app);
                return;
            }
        }
        app.close();
    }

    private synchronized void forget(InetSocketAddress port, Channel app) {
        ArrayDeque<Channel> channels = idle.get(port);
        if (channels != null) {
            channels.remove(app);
        }
    }

    private synchronized Channel takeIdle(InetSocketAddress port, EventLoop loop) {
        ArrayDeque<Channel> channels = idle.get(port);
        if (channels == null) {
            return null;
        }
        for (Iterator<Channel> it = channels.descendingIterator(); it.hasNext(); ) {
            Channel channel = it.next();
            if (channel.eventLoop() == loop && channel.isActive()) {
                it.remove();
                return channel;
            }
        }
        while (!channels.isEmpty()) {
            Channel channel = channels.pollLast();
            if (channel.isActive()) {
                return channel;
            }
        }
        return null;
    }

    @Override
    public synchronized void close() {
        idle.values().forEach(channels -> channels.forEach(Channel::close));
        idle.clear();
    }
}
