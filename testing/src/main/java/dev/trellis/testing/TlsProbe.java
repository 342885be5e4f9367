package dev.trellis.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A TLS client for tests: connects, handshakes with an expected peer host (the server
 * identity's DNS-like name), sends a line, and returns the echo with the server's leaf.
 */
public final class TlsProbe implements AutoCloseable {

    /** What one exchange saw. */
    public record Result(String echo, X509Certificate serverLeaf) {}

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final SslContext context;

    public TlsProbe(SslContext context) {
        this.context = context;
    }

    /** One connection: handshake, send {@code message}, read its echo, close. */
    public Result exchange(InetSocketAddress server, String peerHost, String message) throws Exception {
        CompletableFuture<String> echo = new CompletableFuture<>();
        // Kept here: a failed handshake may close the channel, and empty its pipeline, at once.
        AtomicReference<SslHandler> handler = new AtomicReference<>();
        Channel channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        handler.set(context.newHandler(ch.alloc(), peerHost, server.getPort()));
                        ch.pipeline().addLast(handler.get(),
                                new SimpleChannelInboundHandler<ByteBuf>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
                                        echo.complete(msg.toString(StandardCharsets.UTF_8));
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        echo.completeExceptionally(cause);
                                        ctx.close();
                                    }

                                    @Override
                                    public void channelInactive(ChannelHandlerContext ctx) {
                                        echo.completeExceptionally(new IllegalStateException("connection closed before the echo"));
                                    }
                                });
                    }
                })
                .connect(server).sync().channel();
        try {
            SslHandler ssl = handler.get();
            ssl.handshakeFuture().get(5, TimeUnit.SECONDS);
            X509Certificate leaf = (X509Certificate) ssl.engine().getSession().getPeerCertificates()[0];
            channel.writeAndFlush(Unpooled.copiedBuffer(message, StandardCharsets.UTF_8));
            return new Result(echo.get(5, TimeUnit.SECONDS), leaf);
        } finally {
            channel.close().syncUninterruptibly();
        }
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
