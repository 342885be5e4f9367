package dev.trellis.proxy.http;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Keep-alive HTTP/1.1 connections to the local app, per address: a request takes an idle
 * connection or opens one, and the connection goes back to the pool when its response was
 * complete and the app allows keep-alive. At most {@value #MAX_IDLE_PER_PORT} idle
 * connections are kept per address. An answer that is not HTTP fails the exchange with
 * {@link ProxyError#APP_BAD_RESPONSE} (an outside review saw it passed on as status 999).
 * Thread-safe.
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

    /** Sends {@code request} to the app at {@code port}; the future completes with the response (caller releases it). */
    Future<FullHttpResponse> exchange(InetSocketAddress port, FullHttpRequest request, EventLoop loop) {
        Promise<FullHttpResponse> answer = loop.newPromise();
        Channel pooled = takeIdle(port);
        if (pooled != null) {
            send(port, pooled, request, answer);
            return answer;
        }
        new Bootstrap().group(loop).channel(io.channelType())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel app) {
                        app.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(HttpOutbound.MAX_BODY_BYTES), new Responses());
                    }
                })
                .connect(port)
                .addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess()) {
                        request.release();
                        answer.tryFailure(ProxyError.APP_CONNECT_FAILED.because(port + ": " + Causes.rootMessage(connected.cause())));
                        return;
                    }
                    send(port, connected.channel(), request, answer);
                });
        return answer;
    }

    private void send(InetSocketAddress port, Channel app, FullHttpRequest request, Promise<FullHttpResponse> answer) {
        Responses responses = app.pipeline().get(Responses.class);
        responses.expect(port, answer);
        app.writeAndFlush(request).addListener(written -> {
            if (!written.isSuccess()) {
                answer.tryFailure(new IllegalStateException("app write failed: " + Causes.rootMessage(written.cause())));
                app.close();
            }
        });
    }

    private synchronized Channel takeIdle(InetSocketAddress port) {
        ArrayDeque<Channel> channels = idle.get(port);
        while (channels != null && !channels.isEmpty()) {
            Channel channel = channels.pollLast();
            if (channel.isActive()) {
                return channel;
            }
        }
        return null;
    }

    private synchronized void giveBack(InetSocketAddress port, Channel channel) {
        ArrayDeque<Channel> channels = idle.computeIfAbsent(port, p -> new ArrayDeque<>());
        if (channels.size() >= MAX_IDLE_PER_PORT) {
            channel.close();
        } else {
            channels.addLast(channel);
        }
    }

    /** Routes each response to the request waiting for it; one request at a time per connection. */
    private final class Responses extends SimpleChannelInboundHandler<FullHttpResponse> {
        private Promise<FullHttpResponse> waiting;
        private InetSocketAddress port;

        Responses() {
            super(false);
        }

        void expect(InetSocketAddress port, Promise<FullHttpResponse> answer) {
            this.port = port;
            this.waiting = answer;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
            Promise<FullHttpResponse> answer = waiting;
            waiting = null;
            if (!response.decoderResult().isSuccess()) {
                response.release();
                ctx.close();
                if (answer != null) {
                    answer.tryFailure(ProxyError.APP_BAD_RESPONSE.because("the app at " + port + " answered something that is not HTTP/1.1: "
                            + Causes.rootMessage(response.decoderResult().cause())));
                }
                return;
            }
            boolean reusable = HttpUtil.isKeepAlive(response) && response.decoderResult().isSuccess();
            if (answer == null || !answer.trySuccess(response)) {
                response.release();
                ctx.close();
                return;
            }
            if (reusable) {
                giveBack(port, ctx.channel());
            } else {
                ctx.close();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (waiting != null) {
                waiting.tryFailure(new IllegalStateException("app closed the connection before answering"));
                waiting = null;
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (waiting != null) {
                waiting.tryFailure(cause);
                waiting = null;
            }
            ctx.close();
        }
    }

    @Override
    public synchronized void close() {
        idle.values().forEach(channels -> channels.forEach(Channel::close));
        idle.clear();
    }
}
