package dev.trellis.proxy.transport;

import dev.trellis.core.net.HostPort;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A bound listening channel and the connections it accepted: what every listener of the
 * proxy needs to drain on shutdown (stop accepting, wait for connections, close the rest).
 * Thread-safe.
 */
public final class BoundListener {

    private static final io.netty.util.AttributeKey<java.time.Instant> ACCEPTED_AT = io.netty.util.AttributeKey.valueOf(BoundListener.class, "acceptedAt");

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(BoundListener.class);
    private static final long WARNING_INTERVAL_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

    private final Channel channel;
    private final ChannelGroup connections;

    private BoundListener(Channel channel, ChannelGroup connections) {
        this.channel = channel;
        this.connections = connections;
    }

    /**
     * Binds {@code listen} and hands every accepted connection to {@code accepted}, on its event
     * loop, after recording it for draining. With {@code autoRead} false nothing is read until
     * the handler asks.
     *
     * @throws IllegalStateException naming {@code what} and the address when the bind fails
     */
    public static BoundListener bind(IoRuntime io, HostPort listen, String what, boolean autoRead, Consumer<Channel> accepted)
            throws InterruptedException {
        return bind(io, listen, what, autoRead, Optional.empty(), accepted);
    }

    /**
     * As {@link #bind(IoRuntime, HostPort, String, boolean, Consumer)}, and a new connection from
     * a source that already has as many opening connections as {@code openings} allows closes
     * that source's oldest opening one, with a warning at most every 10 s per listener.
     */
    public static BoundListener bind(IoRuntime io, HostPort listen, String what, boolean autoRead, Optional<Openings> openings, Consumer<Channel> accepted)
            throws InterruptedException {
        ChannelGroup connections = new DefaultChannelGroup(what, GlobalEventExecutor.INSTANCE);
        java.util.concurrent.atomic.AtomicLong lastWarning = new java.util.concurrent.atomic.AtomicLong(System.nanoTime() - WARNING_INTERVAL_NANOS);
        ChannelFuture bound = io.listen(new ServerBootstrap()
                .group(io.group())
                .childOption(ChannelOption.AUTO_READ, autoRead)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        Optional<Channel> displaced = openings.flatMap(o -> o.admit(ch));
                        if (displaced.isPresent()) {
                            long now = System.nanoTime();
                            if (now - lastWarning.get() > WARNING_INTERVAL_NANOS) {
                                lastWarning.set(now);
                                log.warn("proxy: {}: {} has {} connections still opening; closing the oldest for each new one ({} so far)", what,
                                        ch.remoteAddress(), openings.get().opening(((java.net.InetSocketAddress) ch.remoteAddress()).getAddress()),
                                        openings.get().evicted());
                            }
                            displaced.get().close();
                        }
                        ch.attr(ACCEPTED_AT).set(java.time.Instant.now());
                        io.readGate().ifPresent(gate -> ch.pipeline().addFirst("read-share", gate));
                        connections.add(ch);
                        accepted.accept(ch);
                    }
                }), listen).await();
        if (!bound.isSuccess()) {
            throw new IllegalStateException("proxy: cannot listen for " + what + " on " + listen + ": " + bound.cause().getMessage(), bound.cause());
        }
        return new BoundListener(bound.channel(), connections);
    }

    /**
     * When {@code connection} (one a listener accepted, or a stream of one) was accepted: a
     * connection's duration counts from there, the wait to detect its protocol included.
     * Now, for a channel no listener accepted.
     */
    public static java.time.Instant acceptedAt(io.netty.channel.Channel connection) {
        io.netty.channel.Channel accepted = connection.parent() != null && !(connection.parent() instanceof io.netty.channel.ServerChannel)
                ? connection.parent() : connection;
        java.time.Instant at = accepted.attr(ACCEPTED_AT).get();
        return at == null ? java.time.Instant.now() : at;
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** Connections accepted and still open. */
    public int openConnections() {
        return connections.size();
    }

    private void stopAccepting() {
        channel.close().syncUninterruptibly();
    }

    /** Stops accepting and tells every open connection the proxy is draining ({@link DrainSignal}). */
    public void drain() {
        stopAccepting();
        for (Channel connection : connections) {
            connection.pipeline().fireUserEventTriggered(DrainSignal.INSTANCE);
        }
    }

    public void closeConnections() {
        connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
}
