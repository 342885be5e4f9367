package dev.trellis.proxy.transport;

import dev.trellis.core.net.HostPort;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;

/** Sockets bound and connected in the proxy's own network namespace: a sidecar's. */
final class LocalSockets implements Sockets {

    private final IoRuntime io;

    LocalSockets(IoRuntime io) {
        this.io = io;
    }

    @Override
    public ChannelFuture listen(ServerBootstrap bootstrap, HostPort listen) {
        return bootstrap.channel(io.serverChannelType()).bind(listen.toSocketAddress());
    }

    @Override
    public Future<Channel> connect(Bootstrap bootstrap, InetSocketAddress remote) {
        ChannelFuture connecting = bootstrap.channel(io.channelType()).connect(remote);
        // Completed on the channel's loop, where the connect future completes: listeners run there, as on a ChannelFuture.
        Promise<Channel> connected = ImmediateEventExecutor.INSTANCE.newPromise();
        connecting.addListener(f -> {
            if (f.isSuccess()) {
                connected.trySuccess(connecting.channel());
            } else {
                connected.tryFailure(f.cause());
            }
        });
        return connected;
    }

    @Override
    public String describe() {
        return "local";
    }
}
