package dev.trellis.node.host;

import static java.util.Objects.requireNonNull;

import dev.trellis.admin.AdminServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.node.handoff.HandoffMessage;
import dev.trellis.node.handoff.HandoffMessage.PodRef;
import dev.trellis.node.handoff.LinuxSockets;
import dev.trellis.proxy.Proxy;
import dev.trellis.proxy.ProxyConfig;
import dev.trellis.proxy.ProxyHost;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node proxy: one process, one set of event loops, and a {@link Proxy} per pod that the
 * node agent hands over. Each pod's proxy is the sidecar's, unchanged: the pod's own identity
 * (certificate asked for with the node proxy's token; the identity service grants only pods
 * scheduled on this node), its own policy watch, metrics, tap and connection log, its
 * sockets made inside the pod ({@link PodSockets}). The node proxy itself speaks on the wire
 * as nobody: it has no certificate of its own.
 *
 * <p>Fails closed: until the agent hands a pod over, nothing listens in the pod and its
 * redirected connections are refused; when the agent goes away every pod's proxy stops
 * (their listeners close with them) and the node proxy reconnects, and the agent hands the
 * pods over again.
 */
public final class NodeProxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeProxy.class);

    /**
     * @param template     every pod's proxy configuration but its identity and workload; its
     *                     inbound, outbound and tap addresses are where the agent binds in each pod
     * @param agentSocket  the agent's Unix socket
     * @param admin        the node proxy's own admin listener (readiness, node metrics)
     * @param ioThreads    event-loop threads shared by every pod (a forgotten pod's connections get the
     *                     template's shutdown grace to finish)
     * @param podReadsPerSecond each pod's share of the loops while other pods are busy ({@link ProxyHost#start(int, double)})
     */
    public record Settings(ProxyConfig template, Path agentSocket, HostPort admin, int ioThreads, double podReadsPerSecond) {
        public Settings(ProxyConfig template, Path agentSocket, HostPort admin, int ioThreads) {
            this(template, agentSocket, admin, ioThreads, ProxyHost.DEFAULT_POD_READS_PER_SECOND);
        }

        public Settings {
            requireNonNull(template, "template");
            if (podReadsPerSecond <= 0) {
                throw new IllegalArgumentException("node proxy: --pod-reads-per-second must be positive");
            }
            requireNonNull(agentSocket, "agentSocket");
            if (ioThreads < 1) {
                throw new IllegalArgumentException("node proxy: ioThreads must be at least 1");
            }
        }
    }

    private final Settings settings;
    private final Clock clock;
    private final ProxyHost host;
    /** Starts and stops pods' proxies, one at a time, off the agent link's thread. */
    private final ExecutorService lifecycle = Executors.newSingleThreadExecutor(r -> daemon(r, "trellis-node-pods"));
    private final Map<String, Hosted> pods = new ConcurrentHashMap<>();
    private final AdminServer admin;
    private final Counter agentLost;
    private final Thread linker;
    private volatile AgentConnection agent;
    private volatile boolean closed;

    /** A pod served: its reference, its sockets and its running proxy. */
    private record Hosted(PodRef pod, PodSockets sockets, Proxy proxy) {}

    private NodeProxy(Settings settings, Clock clock) throws InterruptedException {
        this.settings = settings;
        this.clock = clock;
        this.host = ProxyHost.start(settings.ioThreads(), settings.podReadsPerSecond());
        if (!host.isEpoll()) {
            host.close();
            throw new IllegalStateException("node proxy: the epoll transport is not available; node mode adopts sockets by descriptor and needs it");
        }
        PrometheusRegistry registry = new PrometheusRegistry();
        GaugeWithCallback.builder().name("node_proxy_pods").help("Pods this node proxy serves")
                .callback(cb -> cb.call(pods.size())).register(registry);
        GaugeWithCallback.builder().name("node_proxy_agent_connected").help("1 while the node agent is connected")
                .callback(cb -> cb.call(agent != null && agent.isOpen() ? 1 : 0)).register(registry);
        this.agentLost = Counter.builder().name("node_proxy_agent_lost").help("Times the link to the node agent was lost").register(registry);
        this.admin = AdminServer.builder("node-proxy").listen(settings.admin()).probes(settings.template().listeners().probes()).registry(registry)
                .readiness(this::notReadyReason).build().start();
        this.linker = daemon(this::linkLoop, "trellis-node-link");
        linker.start();
    }

    /** Starts the node proxy; it connects to the agent (and keeps reconnecting) on its own thread. */
    public static NodeProxy start(Settings settings, Clock clock) throws InterruptedException {
        return new NodeProxy(requireNonNull(settings, "settings"), requireNonNull(clock, "clock"));
    }

    /** Empty when the agent is connected; otherwise why not. */
    Optional<String> notReadyReason() {
        AgentConnection link = agent;
        return link != null && link.isOpen() ? Optional.empty() : Optional.of("not connected to the node agent at " + settings.agentSocket());
    }

    /** The pods served now. */
    public List<PodRef> served() {
        return pods.values().stream().map(Hosted::pod).toList();
    }

    /** The proxy serving pod {@code namespace/name}, when there is one. */
    public Optional<Proxy> proxyOf(String namespace, String name) {
        return pods.values().stream().filter(h -> h.pod().namespace().equals(namespace) && h.pod().name().equals(name)).map(Hosted::proxy).findFirst();
    }

    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    private void linkLoop() {
        Duration backoff = Duration.ofMillis(200);
        while (!closed) {
            AgentConnection link = agent;
            if (link != null && link.isOpen()) {
                sleep(Duration.ofMillis(200));
                continue;
            }
            try {
                agent = AgentConnection.open(settings.agentSocket(), new Announcements());
                log.info("node proxy: connected to the node agent at {}", settings.agentSocket());
                backoff = Duration.ofMillis(200);
            } catch (IOException e) {
                log.debug("node proxy: node agent not reachable: {}", e.getMessage());
                sleep(backoff);
                backoff = backoff.multipliedBy(2).compareTo(Duration.ofSeconds(5)) > 0 ? Duration.ofSeconds(5) : backoff.multipliedBy(2);
            }
        }
    }

    /** The agent's announcements, on its link's thread: handed to the lifecycle thread. */
    private final class Announcements implements AgentConnection.Pods {
        @Override
        public void serve(PodRef pod, Map<HandoffMessage.Listener, Integer> listeners) {
            lifecycle.execute(() -> start(pod, listeners));
        }

        @Override
        public void forget(String uid) {
            lifecycle.execute(() -> stop(uid, "the agent forgot it"));
        }

        @Override
        public void lost(String why) {
            if (closed) {
                return;
            }
            agentLost.inc();
            log.warn("node proxy: lost the node agent ({}); stopping every pod's proxy until it is back", why);
            lifecycle.execute(() -> List.copyOf(pods.keySet()).forEach(uid -> stop(uid, "the node agent went away")));
        }
    }

    private void start(PodRef pod, Map<HandoffMessage.Listener, Integer> fds) {
        if (closed || pods.containsKey(pod.uid())) {
            fds.values().forEach(LinuxSockets::close);
            return;
        }
        ProxyConfig template = settings.template();
        Map<HandoffMessage.Listener, HostPort> at = new EnumMap<>(HandoffMessage.Listener.class);
        at.put(HandoffMessage.Listener.INBOUND, template.listeners().inbound());
        at.put(HandoffMessage.Listener.OUTBOUND, template.listeners().outbound().orElseThrow(() -> new IllegalStateException("node proxy: the template has no outbound listener")));
        at.put(HandoffMessage.Listener.TAP, template.listeners().tap().orElseThrow(() -> new IllegalStateException("node proxy: the template has no tap listener")));
        PodSockets sockets = new PodSockets(pod, agent, template.timeouts().connect(), fds, at);
        try {
            WorkloadIdentity identity = new WorkloadIdentity(template.identity().trustDomain(), pod.namespace(), pod.serviceAccount());
            ProxyConfig config = template.toBuilder(identity).workload(Optional.of(pod.name())).build();
            Proxy proxy = Proxy.hosted(config, clock, host, sockets);
            pods.put(pod.uid(), new Hosted(pod, sockets, proxy));
            log.info("node proxy: serving pod {} as {}", pod.shortName(), identity.spiffeId());
        } catch (Exception e) {
            sockets.close();
            log.error("node proxy: cannot serve pod {}: {}", pod.shortName(), e.getMessage(), e);
        }
    }

    private void stop(String uid, String why) {
        Hosted hosted = pods.remove(uid);
        if (hosted == null) {
            return;
        }
        log.info("node proxy: stopping pod {}'s proxy: {}", hosted.pod().shortName(), why);
        // Drained off this thread: one pod's grace period does not hold up the others.
        Thread.ofVirtual().name("trellis-node-stop-" + hosted.pod().name()).start(() -> {
            hosted.proxy().shutdown();
            hosted.sockets().close();
        });
    }

    private static Thread daemon(Runnable task, String name) {
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        return thread;
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        linker.interrupt();
        AgentConnection link = agent;
        if (link != null) {
            link.close();
        }
        lifecycle.shutdown();
        try {
            lifecycle.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pods.values().parallelStream().forEach(h -> {
            h.proxy().shutdown();
            h.sockets().close();
        });
        pods.clear();
        admin.close();
        host.close();
    }
}
