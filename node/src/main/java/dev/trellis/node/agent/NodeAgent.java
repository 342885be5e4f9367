package dev.trellis.node.agent;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;
import dev.trellis.node.handoff.HandoffChannel;
import dev.trellis.node.handoff.HandoffMessage;
import dev.trellis.node.handoff.HandoffMessage.Connect;
import dev.trellis.node.handoff.HandoffMessage.PodRef;
import dev.trellis.node.handoff.LinuxSockets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent: the privileged half of node mode. It listens on a Unix socket that only
 * the node proxy's user may use (checked with {@code SO_PEERCRED} on every connection), and
 * for each pod of its {@link PodFeed} it makes the pod's listening sockets (inbound, outbound,
 * tap) inside the pod's network namespace and hands them over ({@code SCM_RIGHTS}), keeping
 * no copy: when the node proxy dies they close, and the pod's redirected connections are
 * refused at once instead of hanging. When the node proxy asks, it connects from inside a
 * served pod (marked with {@code SO_MARK}, so the pod's iptables let it out) and hands over
 * the connected socket. A pod that leaves the feed is forgotten: the proxy closes its
 * listeners, the agent its namespace.
 *
 * <p>Threads: one accepts, one reads the node proxy's requests, one enters namespaces (the
 * only thread that ever leaves the agent's own), one polls every connection in progress. Every
 * refusal is logged with its reason.
 */
public final class NodeAgent implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);

    /**
     * @param socket           where to listen for the node proxy
     * @param proxyUid         the only uid allowed to connect (the node proxy's)
     * @param mark             {@code SO_MARK} of the connections made for pods
     * @param inbound          where each pod's inbound listener binds, in the pod
     * @param outbound         where each pod's outbound listener binds, in the pod
     * @param tap              where each pod's tap listener binds, in the pod
     * @param connectTimeout   longest wait for one connection
     * @param maxOpeningPerPod most connections opening at once for one pod; more are refused, so one pod cannot take all
     * @param reconcileEvery   how often pods not yet served are tried again
     */
    public record Settings(Path socket, int proxyUid, int mark, HostPort inbound, HostPort outbound, HostPort tap, Duration connectTimeout,
                           int maxOpeningPerPod, Duration reconcileEvery) {
        public Settings {
            requireNonNull(socket, "socket");
            if (maxOpeningPerPod < 1) {
                throw new IllegalArgumentException("node agent: maxOpeningPerPod must be at least 1");
            }
        }
    }

    private final Settings settings;
    private final PodFeed feed;
    private final PodNetworks networks;
    private final int listener;
    /** The agent's own network namespace, where the namespace thread returns after each visit. */
    private final int home;
    /** The only thread that enters pods' namespaces. */
    private final ExecutorService namespaces = Executors.newSingleThreadExecutor(r -> thread(r, "trellis-agent-netns"));
    /** Every pod's connections in progress, on one polling thread. */
    private final ConnectPoller connects;
    private final ScheduledExecutorService reconciler = Executors.newSingleThreadScheduledExecutor(r -> thread(r, "trellis-agent-reconcile"));
    private final AutoCloseable subscription;
    private final Thread acceptor;
    /** The node proxy's session, when one is connected; guarded by this. */
    private Session session;
    private volatile boolean closed;

    private NodeAgent(Settings settings, PodFeed feed, PodNetworks networks, int listener, int home) throws IOException {
        this.settings = settings;
        this.connects = new ConnectPoller();
        this.home = home;
        this.feed = feed;
        this.networks = networks;
        this.listener = listener;
        this.subscription = feed.subscribe(pods -> reconcile());
        this.acceptor = thread(this::acceptLoop, "trellis-agent-accept");
        reconciler.scheduleWithFixedDelay(this::reconcile, settings.reconcileEvery().toMillis(), settings.reconcileEvery().toMillis(), TimeUnit.MILLISECONDS);
        acceptor.start();
    }

    /** Listens at {@code settings.socket()} (replacing a stale socket file) and starts serving. */
    public static NodeAgent start(Settings settings, PodFeed feed, PodNetworks networks) throws IOException {
        Files.createDirectories(settings.socket().getParent());
        Files.deleteIfExists(settings.socket());
        int fd = LinuxSockets.unixListener(settings.socket(), 4);
        try {
            // Owner and group only; the group is the node proxy's (the agent runs with it as its group: no CAP_CHOWN needed).
            // SO_PEERCRED checks the uid again on every connection.
            Files.setPosixFilePermissions(settings.socket(), java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw----"));
            int group = (Integer) Files.getAttribute(settings.socket(), "unix:gid");
            if (group != settings.proxyUid() && (Integer) Files.getAttribute(settings.socket(), "unix:uid") != settings.proxyUid()) {
                Files.setAttribute(settings.socket(), "unix:gid", settings.proxyUid());
            }
        } catch (IOException | UnsupportedOperationException e) {
            LinuxSockets.close(fd);
            throw new IOException("node agent: cannot open " + settings.socket() + " to the node proxy's group " + settings.proxyUid()
                    + " (run the agent with it as its group): " + e.getMessage(), e);
        }
        log.info("node agent: listening on {} for uid {}", settings.socket(), settings.proxyUid());
        return new NodeAgent(settings, feed, networks, fd, ownNamespace());
    }

    /** Pods handed to the connected node proxy now (for checks and tests). */
    public synchronized List<PodRef> served() {
        return session == null ? List.of() : session.served.values().stream().map(ServedPod::pod).toList();
    }

    private void acceptLoop() {
        while (!closed) {
            int fd;
            try {
                fd = LinuxSockets.accept(listener, Duration.ofMillis(500));
            } catch (IOException e) {
                if (!closed) {
                    log.warn("node agent: accept failed: {}", e.getMessage());
                }
                continue;
            }
            if (fd < 0) {
                continue;
            }
            HandoffChannel channel = new HandoffChannel(fd);
            try {
                LinuxSockets.PeerCredentials peer = channel.peer();
                if (peer.uid() != settings.proxyUid()) {
                    log.warn("node agent: refused a connection from pid {} uid {}: only the node proxy's uid {} may connect", peer.pid(), peer.uid(),
                            settings.proxyUid());
                    channel.close();
                    continue;
                }
                log.info("node agent: node proxy connected (pid {})", peer.pid());
            } catch (IOException e) {
                log.warn("node agent: refused a connection whose peer is unknown: {}", e.getMessage());
                channel.close();
                continue;
            }
            Session fresh = new Session(channel);
            Session old;
            synchronized (this) {
                old = session;
                session = fresh;
            }
            if (old != null) {
                log.info("node agent: a new node proxy replaces the old one's session");
                old.end();
            }
            thread(fresh::readLoop, "trellis-agent-read").start();
            reconcile();
        }
    }

    /** Hands over pods the session does not serve yet, forgets those the feed dropped. */
    private void reconcile() {
        Session current;
        synchronized (this) {
            current = session;
        }
        if (current == null || closed) {
            return;
        }
        Map<String, PodRef> wanted = feed.current();
        try {
            namespaces.execute(() -> current.reconcile(wanted));
        } catch (RejectedExecutionException e) {
            // closing
        }
    }

    /** A pod handed to the node proxy: its namespace (open while served) and its opening connections' permits. */
    private record ServedPod(PodRef pod, int namespace, Semaphore opening) {}

    /** One node proxy connection and the pods handed over on it. */
    private final class Session {
        private final HandoffChannel channel;
        /** Pods served, by uid; written on the namespace thread, read by the reader. */
        private final Map<String, ServedPod> served = new ConcurrentHashMap<>();
        private volatile boolean ended;

        Session(HandoffChannel channel) {
            this.channel = channel;
        }

        /** On the namespace thread. */
        void reconcile(Map<String, PodRef> wanted) {
            if (ended) {
                return;
            }
            for (ServedPod pod : new ArrayList<>(served.values())) {
                PodRef now = wanted.get(pod.pod().uid());
                if (now == null || !now.equals(pod.pod())) {
                    forget(pod);
                }
            }
            for (PodRef pod : wanted.values()) {
                if (!served.containsKey(pod.uid())) {
                    serve(pod);
                }
            }
        }

        private void serve(PodRef pod) {
            int namespace;
            try {
                namespace = networks.open(pod);
            } catch (IOException e) {
                log.warn("node agent: pod {} not served yet: {}", pod.shortName(), e.getMessage());
                return;
            }
            List<Integer> fds = new ArrayList<>();
            try {
                LinuxSockets.inNamespace(namespace, home, () -> {
                    fds.add(LinuxSockets.tcpListener(settings.inbound().toSocketAddress(), 1024));
                    fds.add(LinuxSockets.tcpListener(settings.outbound().toSocketAddress(), 1024));
                    fds.add(LinuxSockets.tcpListener(settings.tap().toSocketAddress(), 64));
                    return null;
                });
                channel.send(new HandoffMessage.Serve(pod), fds);
                served.put(pod.uid(), new ServedPod(pod, namespace, new Semaphore(settings.maxOpeningPerPod())));
                log.info("node agent: serving pod {} ({}, sa {})", pod.shortName(), pod.ip(), pod.serviceAccount());
            } catch (IOException e) {
                LinuxSockets.close(namespace);
                log.warn("node agent: pod {} not served yet: {}", pod.shortName(), e.getMessage());
            } finally {
                // The agent keeps no copy: the node proxy's are the only ones.
                fds.forEach(LinuxSockets::close);
            }
        }

        private void forget(ServedPod pod) {
            served.remove(pod.pod().uid());
            LinuxSockets.close(pod.namespace());
            try {
                channel.send(new HandoffMessage.Forget(pod.pod().uid()), List.of());
                log.info("node agent: pod {} forgotten", pod.pod().shortName());
            } catch (IOException e) {
                log.warn("node agent: could not tell the node proxy to forget pod {}: {}", pod.pod().shortName(), e.getMessage());
            }
        }

        void readLoop() {
            try {
                while (!ended) {
                    HandoffChannel.Envelope envelope = channel.receive();
                    if (envelope == null) {
                        break;
                    }
                    if (envelope.message() instanceof Connect connect) {
                        connect(connect);
                    } else {
                        HandoffMessage.closeAll(envelope.fds());
                        log.warn("node agent: refused an unexpected {} from the node proxy", envelope.message().getClass().getSimpleName());
                    }
                }
            } catch (IOException e) {
                if (!ended) {
                    log.warn("node agent: node proxy session broken: {}", e.getMessage());
                }
            }
            log.info("node agent: node proxy disconnected");
            end();
            synchronized (NodeAgent.this) {
                if (session == this) {
                    session = null;
                }
            }
        }

        private void connect(Connect request) {
            ServedPod pod = served.get(request.uid());
            if (pod == null) {
                fail(request, "pod " + request.uid() + " is not served by this node");
                return;
            }
            if (!pod.opening().tryAcquire()) {
                fail(request, "pod " + pod.pod().shortName() + " already has " + settings.maxOpeningPerPod() + " connections opening");
                return;
            }
            try {
                namespaces.execute(() -> {
                    int fd;
                    boolean connected;
                    try {
                        fd = LinuxSockets.inNamespace(pod.namespace(), home, () -> LinuxSockets.tcpSocket(request.remote().getAddress(), settings.mark()));
                    } catch (IOException e) {
                        pod.opening().release();
                        fail(request, e.getMessage());
                        return;
                    }
                    try {
                        // Non-blocking: in progress, or done at once (the pod's own loopback, say).
                        connected = LinuxSockets.startConnect(fd, request.remote());
                    } catch (IOException e) {
                        finish(request, pod, fd, Optional.of(e.getMessage()));
                        return;
                    }
                    if (connected) {
                        finish(request, pod, fd, Optional.empty());
                        return;
                    }
                    try {
                        connects.watch(new ConnectPoller.Pending(fd, request.remote(), System.nanoTime() + settings.connectTimeout().toNanos(),
                                outcome -> finish(request, pod, fd, outcome)));
                    } catch (RejectedExecutionException e) {
                        finish(request, pod, fd, Optional.of(e.getMessage()));
                    }
                });
            } catch (RejectedExecutionException e) {
                pod.opening().release();
                fail(request, "the agent is closing");
            }
        }

        /** Hands the connected socket over, or says why there is none; the agent's copy is closed either way. */
        private void finish(Connect request, ServedPod pod, int fd, Optional<String> failure) {
            try {
                if (failure.isPresent()) {
                    fail(request, failure.get());
                } else {
                    channel.send(new HandoffMessage.Connected(request.id()), List.of(fd));
                }
            } catch (IOException e) {
                log.debug("node agent: could not hand over connect {}: {}", request.id(), e.getMessage());
            } finally {
                LinuxSockets.close(fd);
                pod.opening().release();
            }
        }

        private void fail(Connect request, String reason) {
            log.debug("node agent: connect {} for pod {} to {} failed: {}", request.id(), request.uid(), request.remote(), reason);
            try {
                channel.send(new HandoffMessage.ConnectFailed(request.id(), reason), List.of());
            } catch (IOException e) {
                log.debug("node agent: could not answer connect {}: {}", request.id(), e.getMessage());
            }
        }

        void end() {
            if (ended) {
                return;
            }
            ended = true;
            channel.close();
            try {
                namespaces.execute(() -> {
                    served.values().forEach(pod -> LinuxSockets.close(pod.namespace()));
                    served.clear();
                });
            } catch (RejectedExecutionException e) {
                // closing: the process ends with them
            }
        }
    }

    private static Thread thread(Runnable task, String name) {
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        return thread;
    }

    @Override
    public void close() {
        closed = true;
        try {
            subscription.close();
        } catch (Exception ignored) {
            // the feed is going anyway
        }
        Session current;
        synchronized (this) {
            current = session;
            session = null;
        }
        if (current != null) {
            current.end();
        }
        reconciler.shutdownNow();
        namespaces.shutdown();
        connects.close();
        try {
            acceptor.join(2000);
            namespaces.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LinuxSockets.close(listener);
        LinuxSockets.close(home);
        try {
            Files.deleteIfExists(settings.socket());
        } catch (IOException ignored) {
            // a stale file is replaced at the next start
        }
    }

    /** A descriptor of the calling process's network namespace (its main thread's, which never leaves it). */
    public static int ownNamespace() throws IOException {
        return LinuxSockets.open(Path.of("/proc/self/ns/net"));
    }
}
