package dev.trellis.proxy;

import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.ReadShares;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What a node proxy shares among the proxies it hosts: one set of event loops (each hosted
 * proxy uses them with its own pod's {@link SocketSource}) and one discovery thread. Closing
 * it closes them; close the hosted proxies first. Thread-safe.
 */
public final class ProxyHost implements AutoCloseable {

    /** Reads each hosted pod may make per second while other pods are active, by default; twice that at once. */
    public static final double DEFAULT_POD_READS_PER_SECOND = 2000;

    private final IoRuntime io;
    private final ScheduledExecutorService scheduler;
    private final ReadShares shares;

    private ProxyHost(IoRuntime io, ScheduledExecutorService scheduler, ReadShares shares) {
        this.io = io;
        this.scheduler = scheduler;
        this.shares = shares;
    }

    /** Event loops with {@code ioThreads} threads and one discovery thread; pods share them at {@link #DEFAULT_POD_READS_PER_SECOND}. */
    public static ProxyHost start(int ioThreads) {
        return start(ioThreads, DEFAULT_POD_READS_PER_SECOND);
    }

    /**
     * Event loops with {@code ioThreads} threads and one discovery thread. While more than one
     * pod is busy, each may read {@code podReadsPerSecond} times a second (a read takes in what
     * one or more requests sent): a pod that floods waits for its turn instead of starving the
     * others. A pod alone is not held back.
     */
    public static ProxyHost start(int ioThreads, double podReadsPerSecond) {
        if (ioThreads < 1) {
            throw new IllegalArgumentException("proxy host: at least one event-loop thread");
        }
        return new ProxyHost(IoRuntime.create(ioThreads), Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "trellis-host-discovery");
            thread.setDaemon(true);
            return thread;
        }), new ReadShares(podReadsPerSecond, (int) Math.max(1, Math.min(Integer.MAX_VALUE, 2 * podReadsPerSecond))));
    }

    /** A share of the loops for pod {@code pod}; closed with the pod's proxy. */
    ReadShares.Share share(String pod) {
        return shares.share(pod);
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
