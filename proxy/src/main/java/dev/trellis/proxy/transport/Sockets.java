package dev.trellis.proxy.transport;

import dev.trellis.core.net.HostPort;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;

/**
 * Where a proxy's data-plane sockets come from. A sidecar binds and connects in its own
 * network namespace ({@link IoRuntime#create}); a node proxy serving a pod gets them made
 * inside that pod's namespace by the node agent, so the pod's traffic keeps the pod's
 * address (other modules implement it as {@code dev.trellis.proxy.SocketSource}). Control-plane connections (identity, destination) never come from here: they are
 * the proxy's own. Implementations are thread-safe.
 */
public interface Sockets {

    /**
     * A listening channel for {@code listen}, made from {@code bootstrap} (its group and
     * handlers set, its channel type not): bound here, or adopted from a socket made for it.
     */
    ChannelFuture listen(ServerBootstrap bootstrap, HostPort listen);

    /**
     * A channel connected to {@code remote}, made from {@code bootstrap} (its group, options
     * and handler set, its channel type not). Fails with the reason when it cannot connect;
     * the handler sees {@code channelActive} once connected, as with any connect.
     */
    Future<Channel> connect(Bootstrap bootstrap, InetSocketAddress remote);

    /** A short description for logs: {@code local}, {@code pod ns/name}. */
    String describe();
}
