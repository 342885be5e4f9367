package dev.trellis.node.host;

import dev.trellis.core.net.HostPort;
import dev.trellis.node.handoff.HandoffMessage;
import dev.trellis.node.handoff.HandoffMessage.PodRef;
import dev.trellis.node.handoff.LinuxSockets;
import dev.trellis.proxy.SocketSource;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One pod's sockets, as the node agent makes them inside the pod's network namespace: its
 * listeners are the ones handed over with the pod (by port: inbound, outbound, tap), each
 * adopted once; every connection is asked of the agent and adopted connected. Sockets that
 * were never adopted are closed with {@link #close}.
 */
final class PodSockets implements SocketSource, AutoCloseable {

    private final PodRef pod;
    private final AgentConnection agent;
    private final Duration connectTimeout;
    /** Listening descriptors not adopted yet, by port. */
    private final Map<Integer, Integer> listeners = new ConcurrentHashMap<>();

    PodSockets(PodRef pod, AgentConnection agent, Duration connectTimeout, Map<HandoffMessage.Listener, Integer> fds, Map<HandoffMessage.Listener, HostPort> at) {
        this.pod = pod;
        this.agent = agent;
        this.connectTimeout = connectTimeout;
        fds.forEach((role, fd) -> listeners.put(at.get(role).port(), fd));
    }

    @Override
    public ChannelFuture listen(ServerBootstrap bootstrap, HostPort listen) {
        Integer fd = listeners.remove(listen.port());
        if (fd == null) {
            // A factory that throws makes the bootstrap answer with a failed future naming why.
            return bootstrap.channelFactory(() -> {
                throw new IllegalStateException("node proxy: pod " + pod.shortName() + " has no listener on port " + listen.port());
            }).register();
        }
        return bootstrap.channelFactory(() -> new EpollServerSocketChannel(fd)).register();
    }

    @Override
    public Future<Channel> connect(Bootstrap bootstrap, InetSocketAddress remote) {
        EventExecutor loop = bootstrap.config().group().next();
        Promise<Channel> connected = loop.newPromise();
        agent.connect(pod.uid(), remote, connectTimeout.plusSeconds(1), loop).addListener((Future<Integer> made) -> {
            if (!made.isSuccess()) {
                connected.tryFailure(new IOException("connect from pod " + pod.shortName() + " to " + remote + ": " + made.cause().getMessage(), made.cause()));
                return;
            }
            int fd = made.getNow();
            ChannelFuture registered;
            try {
                registered = bootstrap.channelFactory(() -> new EpollSocketChannel(fd)).register();
            } catch (RuntimeException e) {
                LinuxSockets.close(fd);
                connected.tryFailure(e);
                return;
            }
            registered.addListener(r -> {
                if (r.isSuccess()) {
                    if (!connected.trySuccess(registered.channel())) {
                        registered.channel().close();
                    }
                } else {
                    registered.channel().close();
                    connected.tryFailure(r.cause());
                }
            });
        });
        return connected;
    }

    @Override
    public String describe() {
        return "pod " + pod.shortName() + " (" + pod.ip() + ") through the node agent";
    }

    @Override
    public void close() {
        listeners.values().forEach(LinuxSockets::close);
        listeners.clear();
    }
}
