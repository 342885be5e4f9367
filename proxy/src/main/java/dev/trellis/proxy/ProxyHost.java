package dev.trellis.proxy;

import dev.trellis.proxy.transport.IoRuntime;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What a node proxy shares among the proxies it hosts: one set of event loops (each hosted
 * proxy uses them with its own pod's {@link SocketSource}) and one discovery thread. Closing
 * it closes them; close the hosted proxies first. Thread-safe.
 */
public final class ProxyHost implements AutoCloseable {

    private final IoRuntime io;
    private final ScheduledExecutorService scheduler;

    private ProxyHost(IoRuntime io, ScheduledExecutorService scheduler) {
        this.io = io;
        this.scheduler = scheduler;
    }

    /** Event loops with {@code ioThreads} threads and one discovery thread. */
    public static ProxyHost start(int ioThreads) {
        if (ioThreads < 1) {
            throw new IllegalArgumentException("proxy host: at least one event-loop thread");
        }
        return new ProxyHost(IoRuntime.create(ioThreads), Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "trellis-host-discovery");
            thread.setDaemon(true);
            return thread;
        }));
    }

    /** Whether the loops are epoll's (needed to adopt sockets by descriptor). */
    public boolean isEpoll() {
        return io.isEpoll();
    }

    /** Sockets bound and connected in this process's own network namespace, on these loops: for hosting proxies of workloads on this machine. */
    public SocketSource localSockets() {
        dev.trellis.proxy.transport.Sockets local = io.sockets();
        return new SocketSource() {
            @Override
            public io.netty.channel.ChannelFuture listen(io.netty.bootstrap.ServerBootstrap bootstrap, dev.trellis.core.net.HostPort listen) {
                return local.listen(bootstrap, listen);
            }

            @Override
            public io.netty.util.concurrent.Future<io.netty.channel.Channel> connect(io.netty.bootstrap.Bootstrap bootstrap, java.net.InetSocketAddress remote) {
                return local.connect(bootstrap, remote);
            }

            @Override
            public String describe() {
                return local.describe();
            }
        };
    }

    /** The loops, with {@code sockets} for one hosted proxy's data plane. */
    IoRuntime io(SocketSource sockets) {
        return io.withSockets(sockets);
    }

    /** The loops with sockets bound and connected here: for hosted proxies on this machine's own network (the demo's). */
    IoRuntime localIo() {
        // A view, so that a hosted proxy's shutdown leaves the shared loops running.
        return io.withSockets(io.sockets());
    }

    ScheduledExecutorService scheduler() {
        return scheduler;
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
        io.close();
    }
}
