package dev.trellis.proxy.transport;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A bound listening channel and the connections it accepted: what every listener of the
 * proxy needs to drain on shutdown (stop accepting, wait for connections, close the rest).
 * Thread-safe.
 */
public final class BoundListener {

    private final Channel channel;
    private final ChannelGroup connections;

    public BoundListener(Channel channel, ChannelGroup connections) {
        this.channel = channel;
        this.connections = connections;
    }

    /** A group to add accepted connections to, before the listener is bound. */
    public static ChannelGroup newConnectionGroup(String name) {
        return new DefaultChannelGroup(name, GlobalEventExecutor.INSTANCE);
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** Connections accepted and still open. */
    public int openConnections() {
        return connections.size();
    }

    public void stopAccepting() {
        channel.close().syncUninterruptibly();
    }

    public void closeConnections() {
        connections.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
}
