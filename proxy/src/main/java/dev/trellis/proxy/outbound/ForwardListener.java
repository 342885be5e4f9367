package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.IoRuntime;
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
 * A local port for one opaque destination ({@code --forward PORT=authority}): every
 * connection to it is carried by {@link OpaqueOutbound} to an endpoint of {@code authority}.
 */
public final class ForwardListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ForwardListener.class);

    /** {@code listen} forwards to {@code authority} ({@code host:port}). */
    public record Forward(HostPort listen, String authority) {
        public Forward {
            requireNonNull(listen, "listen");
            requireNonNull(authority, "authority");
            HostPort.parse(authority);
        }

        /** Parses {@code PORT=authority} (loopback) or {@code HOST:PORT=authority}. */
        public static Forward parse(String text) {
            int equals = text.indexOf('=');
            if (equals <= 0 || equals == text.length() - 1) {
                throw new IllegalArgumentException("forward: '" + text + "' is not PORT=host:port or HOST:PORT=host:port");
            }
            String listen = text.substring(0, equals).strip();
            HostPort address = listen.chars().allMatch(Character::isDigit)
                    ? new HostPort("127.0.0.1", Integer.parseInt(listen)) : HostPort.parse(listen);
            return new Forward(address, text.substring(equals + 1).strip());
        }
    }

    private final Forward forward;
    private final IoRuntime io;
    private final OpaqueOutbound outbound;
    private final ChannelGroup connections = BoundListener.newConnectionGroup("forward");
    private BoundListener listener;

    public ForwardListener(Forward forward, IoRuntime io, OpaqueOutbound outbound) {
        this.forward = requireNonNull(forward, "forward");
        this.io = requireNonNull(io, "io");
        this.outbound = requireNonNull(outbound, "outbound");
    }

    /** Binds the local port. */
    public ForwardListener start() throws InterruptedException {
        ChannelFuture bound = new ServerBootstrap()
                .group(io.group())
                .channel(io.serverChannelType())
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.add(ch);
                        ch.pipeline().addLast("pending", Relay.pending());
                        outbound.carry(ch, forward.authority(), Optional.empty());
                    }
                })
                .bind(forward.listen().toSocketAddress()).await();
        if (!bound.isSuccess()) {
            throw new IllegalStateException("proxy: cannot listen on " + forward.listen() + " for " + forward.authority() + ": "
                    + bound.cause().getMessage(), bound.cause());
        }
        listener = new BoundListener(bound.channel(), connections);
        log.info("proxy: forwarding {} to {}", address(), forward.authority());
        return this;
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
