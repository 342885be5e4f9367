package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.metrics.ProxyMetrics;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.OriginalDestination;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import java.net.InetSocketAddress;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound listener (default 127.0.0.1:4140) in transparent mode: iptables redirects the
 * app's outbound TCP here; the original destination, read with {@code SO_ORIGINAL_DST}, is
 * resolved as the authority {@code ip:port} (discovery maps pod and service addresses to
 * endpoints) and the connection is carried by {@link OpaqueOutbound} — to a meshed endpoint
 * over mTLS, or straight to the original destination when discovery knows none. A connection
 * that was not redirected has no original destination and is refused.
 */
public final class TransparentListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TransparentListener.class);

    private final HostPort listen;
    private final IoRuntime io;
    private final OpaqueOutbound outbound;
    private final ProxyMetrics metrics;
    private final ChannelGroup connections = BoundListener.newConnectionGroup("outbound");
    private BoundListener listener;

    public TransparentListener(HostPort listen, IoRuntime io, OpaqueOutbound outbound, ProxyMetrics metrics) {
        this.listen = requireNonNull(listen, "listen");
        this.io = requireNonNull(io, "io");
        this.outbound = requireNonNull(outbound, "outbound");
        this.metrics = requireNonNull(metrics, "metrics");
    }

    public TransparentListener start() throws InterruptedException {
        if (!io.isEpoll()) {
            log.warn("proxy: epoll is not available; the outbound listener on {} cannot read original destinations and will refuse connections", listen);
        }
        ChannelFuture bound = new ServerBootstrap()
                .group(io.group())
                .channel(io.serverChannelType())
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.add(ch);
                        ch.pipeline().addLast("pending", Relay.pending());
                        Optional<InetSocketAddress> original = OriginalDestination.of(ch);
                        if (original.isEmpty() || isThisListener(original.get())) {
                            metrics.refused("outbound", "no_original_destination");
                            log.info("proxy: outbound connection from {} has no original destination (not redirected); closing", ch.remoteAddress());
                            ch.close();
                            return;
                        }
                        InetSocketAddress destination = original.get();
                        String authority = destination.getAddress().getHostAddress() + ":" + destination.getPort();
                        outbound.carry(ch, authority, Optional.of(destination));
                    }
                })
                .bind(listen.toSocketAddress()).await();
        if (!bound.isSuccess()) {
            throw new IllegalStateException("proxy: cannot listen for outbound on " + listen + ": " + bound.cause().getMessage(), bound.cause());
        }
        listener = new BoundListener(bound.channel(), connections);
        log.info("proxy: outbound (transparent) listening on {}", listener.address());
        return this;
    }

    private boolean isThisListener(InetSocketAddress destination) {
        InetSocketAddress self = listener == null ? null : listener.address();
        return self != null && destination.getPort() == self.getPort()
                && (destination.getAddress().isLoopbackAddress() || destination.getAddress().equals(self.getAddress()));
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    public int openConnections() {
        return listener.openConnections();
    }

    public void stopAccepting() {
        listener.stopAccepting();
    }

    public void closeConnections() {
        listener.closeConnections();
    }

    @Override
    public void close() {
        stopAccepting();
        closeConnections();
    }
}
