package dev.trellis.viz;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Fetches a proxy's metrics the only way a proxy serves them to the network: over its inbound
 * mutual-TLS listener, as the viz identity, checking that the proxy presents the identity the
 * cluster state gives its pod (threat-model findings 7 and 9). One short connection per
 * scrape; responses above {@value #MAX_BYTES} bytes are refused. Thread-safe.
 */
public final class MeshScraper implements Viz.Scraper, AutoCloseable {

    static final int MAX_BYTES = 4 * 1024 * 1024;

    private final SslContext tls;
    private final Duration timeout;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());

    /** {@code tls}: a client context presenting the viz identity's certificate, with ALPN {@code h2}. */
    public MeshScraper(SslContext tls, Duration timeout) {
        this.tls = requireNonNull(tls, "tls");
        this.timeout = requireNonNull(timeout, "timeout");
    }

    /** The Prometheus text of the proxy listening (inbound) on {@code address} as {@code identity}. */
    @Override
    public CompletableFuture<String> scrape(InetSocketAddress address, WorkloadIdentity identity) {
        CompletableFuture<String> result = new CompletableFuture<>();
        SslHandler[] ssl = new SslHandler[1];
        new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeout.toMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ssl[0] = tls.newHandler(ch.alloc(), identity.dnsName(), address.getPort());
                        ch.pipeline().addLast(new ReadTimeoutHandler(timeout.toMillis(), TimeUnit.MILLISECONDS))
                                .addLast(ssl[0])
                                .addLast(Http2FrameCodecBuilder.forClient().build())
                                .addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    }
                })
                .connect(address)
                .addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess()) {
                        result.completeExceptionally(new IllegalStateException("viz: cannot reach " + address + ": " + connected.cause().getMessage()));
                        return;
                    }
                    Channel connection = connected.channel();
                    result.whenComplete((text, error) -> connection.close());
                    ssl[0].handshakeFuture().addListener(handshake -> {
                        if (!handshake.isSuccess()) {
                            result.completeExceptionally(new IllegalStateException("viz: TLS with " + address + " (expected " + identity + ") failed: "
                                    + handshake.cause().getMessage()));
                            return;
                        }
                        request(connection, result, address);
                    });
                    connection.closeFuture().addListener(f -> {
                        var handshake = ssl[0].handshakeFuture();
                        result.completeExceptionally(new IllegalStateException(handshake.isSuccess()
                                ? "viz: " + address + " closed the connection"
                                : "viz: TLS with " + address + " (expected " + identity + ") failed: "
                                        + (handshake.cause() == null ? "closed during the handshake" : handshake.cause().getMessage())));
                    });
                });
        return result.orTimeout(timeout.toMillis() * 2, TimeUnit.MILLISECONDS);
    }

    private void request(Channel connection, CompletableFuture<String> result, InetSocketAddress address) {
        new Http2StreamChannelBootstrap(connection).handler(new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel stream) {
                stream.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false))
                        .addLast(new HttpObjectAggregator(MAX_BYTES))
                        .addLast(new SimpleChannelInboundHandler<FullHttpResponse>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
                                if (response.status().code() != 200) {
                                    result.completeExceptionally(new IllegalStateException("viz: " + address + " answered " + response.status()
                                            + " " + response.headers().get("trellis-proxy-error", "")));
                                } else {
                                    result.complete(response.content().toString(StandardCharsets.UTF_8));
                                }
                                ctx.close();
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                result.completeExceptionally(cause);
                                ctx.close();
                            }
                        });
            }
        }).open().addListener(opened -> {
            if (!opened.isSuccess()) {
                result.completeExceptionally(opened.cause());
                return;
            }
            DefaultFullHttpRequest get = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/metrics");
            get.headers().set("host", address.getHostString()).set("trellis-target-port", "proxy")
                    .set(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(), "https");
            ((Channel) opened.getNow()).writeAndFlush(get);
        });
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
