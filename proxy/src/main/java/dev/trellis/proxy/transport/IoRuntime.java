package dev.trellis.proxy.transport;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.EventExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The event loops of one proxy, the channel classes that go with them (epoll where the
 * native library loads, needed for SO_ORIGINAL_DST in transparent mode; NIO elsewhere) and
 * where its data-plane sockets come from ({@link Sockets}). One per proxy, passed to
 * every listener and connector; closed last. A node proxy makes one and gives each pod it
 * serves a {@linkplain #withSockets view} with that pod's sockets on the same loops.
 */
public final class IoRuntime implements Deadlines.Source, AutoCloseable {

    private final boolean epoll;
    private final EventLoopGroup group;
    /** One deadline wheel per loop, made with the loops. */
    private final java.util.Map<io.netty.util.concurrent.EventExecutor, Deadlines> deadlines;
    private final Sockets sockets;
    /** Whether closing this closes the loops: false for a view. */
    private final boolean ownsLoops;
    /** A hosted pod's fair share of reads, put first on each connection its listeners accept. */
    private final java.util.Optional<io.netty.channel.ChannelHandler> readGate;

    private IoRuntime(int threads) {
        this.epoll = Epoll.isAvailable();
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(threads, factory);
        java.util.Map<io.netty.util.concurrent.EventExecutor, Deadlines> wheels = new java.util.IdentityHashMap<>();
        group.forEach(loop -> wheels.put(loop, new Deadlines((io.netty.channel.EventLoop) loop)));
        this.deadlines = java.util.Collections.unmodifiableMap(wheels);
        this.sockets = new LocalSockets(this);
        this.ownsLoops = true;
        this.readGate = java.util.Optional.empty();
    }

    private IoRuntime(IoRuntime loops, Sockets sockets, java.util.Optional<io.netty.channel.ChannelHandler> readGate) {
        this.epoll = loops.epoll;
        this.group = loops.group;
        this.deadlines = loops.deadlines;
        this.sockets = java.util.Objects.requireNonNull(sockets, "sockets");
        this.ownsLoops = false;
        this.readGate = readGate;
    }

    /**
     * These loops with data-plane sockets from {@code sockets}; closing the view leaves the
     * loops running (their owner closes them).
     */
    public IoRuntime withSockets(Sockets sockets) {
        return new IoRuntime(this, sockets, readGate);
    }

    /** This view, its listeners' connections reading through {@code share} (a hosted pod's fair share of the loops). */
    public IoRuntime withReadShare(ReadShares.Share share) {
        return new IoRuntime(this, sockets, java.util.Optional.of(share.handler()));
    }

    /** The handler accepted connections read through, when this proxy shares its loops with other pods. */
    public java.util.Optional<io.netty.channel.ChannelHandler> readGate() {
        return readGate;
    }

    /** Where this proxy's data-plane sockets come from. */
    public Sockets sockets() {
        return sockets;
    }

    /** Binds or adopts a listener: {@link Sockets#listen}. */
    public io.netty.channel.ChannelFuture listen(io.netty.bootstrap.ServerBootstrap bootstrap, dev.trellis.core.net.HostPort listen) {
        return sockets.listen(bootstrap, listen);
    }

    /** Connects a data-plane channel: {@link Sockets#connect}. */
    public io.netty.util.concurrent.Future<io.netty.channel.Channel> connect(io.netty.bootstrap.Bootstrap bootstrap, java.net.InetSocketAddress remote) {
        return sockets.connect(bootstrap, remote);
    }

    /** The deadline wheel of {@code loop}, one of these loops. */
    @Override
    public Deadlines of(io.netty.channel.EventLoop loop) {
        Deadlines wheel = deadlines.get(loop);
        if (wheel == null) {
            throw new IllegalArgumentException(loop + " is not one of this proxy's event loops");
        }
        return wheel;
    }

    /** Runs {@code task} now when called on {@code loop}, or queues it there: for work that must happen on a channel's own loop. */
    public static void runOn(EventExecutor loop, Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
        } else {
            loop.execute(task);
        }
    }

    /** Event loops with {@code threads} threads (a sidecar wants one or two). */
    public static IoRuntime create(int threads) {
        return new IoRuntime(threads);
    }

    public EventLoopGroup group() {
        return group;
    }

    public boolean isEpoll() {
        return epoll;
    }

    public Class<? extends ServerChannel> serverChannelType() {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public Class<? extends SocketChannel> channelType() {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    @Override
    public void close() {
        if (ownsLoops) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
