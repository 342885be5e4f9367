package dev.trellis.proxy.inbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.util.ReferenceCountUtil;
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
 * connection (one on its own event loop first) or opens one, has what the connection reads
 * passed to its handler, and gives the connection back when its response was whole and both
 * sides allow keep-alive. At most {@value #MAX_IDLE_PER_PORT} idle connections are kept per
 * address; an idle connection the app closes leaves the pool. Thread-safe.
 */
final class AppHttp1Pool implements AutoCloseable {

    static final int MAX_IDLE_PER_PORT = 64;

    private final IoRuntime io;
    private final Duration connectTimeout;
    private final Map<InetSocketAddress, ArrayDeque<Channel>> idle = new HashMap<>();

    AppHttp1Pool(IoRuntime io, Duration connectTimeout) {
        this.io = requireNonNull(io, "io");
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
    }

    /**
     * A connection to the app at {@code port} whose reads go to {@code exchange} until it is
     * given back; the future fails with
     * {@link ProxyError#APP_CONNECT_FAILED} naming the address. A new connection does not read
     * until the exchange turns auto-read on; a pooled one reads on (turning its epoll interest
     * off and on again per request cost two system calls), and nothing comes before the
     * exchange's request anyway.
     */
    Future<Channel> acquire(InetSocketAddress port, EventLoop loop, ChannelInboundHandler exchange) {
        Promise<Channel> ready = loop.newPromise();
        Channel pooled = takeIdle(port, loop);
        if (pooled != null) {
            attach(pooled, exchange, ready);
            return ready;
        }
        io.connect(new Bootstrap().group(loop)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel app) {
                        app.pipeline().addLast("http1", new HttpClientCodec()).addLast("exchange", new ToExchange());
                    }
                }), port)
                .addListener((Future<Channel> connected) -> {
                    if (!connected.isSuccess()) {
                        ready.tryFailure(ProxyError.APP_CONNECT_FAILED.because(port + ": " + Causes.rootMessage(connected.cause())));
                        return;
                    }
                    Channel app = connected.getNow();
                    // Once per connection: an idle connection the app closes leaves the pool.
                    app.closeFuture().addListener(f -> forget(port, app));
                    attach(app, exchange, ready);
                });
        return ready;
    }

    private static void attach(Channel app, ChannelInboundHandler exchange, Promise<Channel> ready) {
        IoRuntime.runOn(app.eventLoop(), () -> {
            app.pipeline().get(ToExchange.class).exchange = exchange;
            ready.trySuccess(app);
        });
    }

    /**
     * {@code app}'s exchange (whose handler was {@code exchange}) ended cleanly: the connection
     * waits for the next one (or closes, past the idle limit).
     */
    void giveBack(InetSocketAddress port, Channel app, ChannelInboundHandler exchange) {
        app.config().setAutoRead(true);
        // The next exchange may attach first (on the connection's loop, while this runs on the stream's): only this one leaves.
        IoRuntime.runOn(app.eventLoop(), () -> {
            ToExchange to = app.pipeline().get(ToExchange.class);
            if (to != null && to.exchange == exchange) {
                to.exchange = null;
            }
        });
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

    /**
     * The one handler an app connection keeps: what the connection reads goes to the exchange
     * using it; an idle connection that says something unasked is closed. Swapping a handler
     * per exchange instead, with {@code pipeline.replace}, cost the server proxy its heap: Netty
     * leaves a replaced context pointing at its replacement, so the contexts of every exchange
     * on a connection formed a chain, and once the collector had promoted one (an exchange
     * in flight, or a connection idle, across two collections) each later exchange was kept
     * alive by the one before and promoted in turn, until a full collection (about 1.4 KB per
     * request at 1,000 req/s).
     */
    private static final class ToExchange extends ChannelInboundHandlerAdapter {
        /** The exchange using the connection, or null while it is idle; its event loop only. */
        private ChannelInboundHandler exchange;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (exchange == null) {
                ReferenceCountUtil.release(msg);
                ctx.close();
                return;
            }
            exchange.channelRead(ctx, msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
            if (exchange != null) {
                exchange.channelReadComplete(ctx);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
            if (exchange != null) {
                exchange.channelWritabilityChanged(ctx);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            if (exchange != null) {
                exchange.channelInactive(ctx);
            }
        }

        @Override
        @SuppressWarnings("deprecation")
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
            if (exchange != null) {
                exchange.exceptionCaught(ctx, cause);
            } else {
                ctx.close();
            }
        }
    }

    @Override
    public synchronized void close() {
        idle.values().forEach(channels -> channels.forEach(Channel::close));
        idle.clear();
    }
}
