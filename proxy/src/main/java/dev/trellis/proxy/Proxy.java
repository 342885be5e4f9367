package dev.trellis.proxy;

import static java.util.Objects.requireNonNull;

import dev.trellis.admin.AdminServer;
import dev.trellis.proxy.connlog.ConnectionLog;
import dev.trellis.proxy.discovery.Discovery;
import dev.trellis.proxy.discovery.RouteProfiles;
import dev.trellis.proxy.inbound.InboundServer;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.metrics.ProxyMetrics;
import dev.trellis.proxy.outbound.OutboundSide;
import dev.trellis.proxy.policy.InboundPolicy;
import dev.trellis.proxy.policy.InboundRateLimiter;
import dev.trellis.proxy.policy.InboundTargets;
import dev.trellis.proxy.policy.PolicyMetrics;
import dev.trellis.proxy.policy.PolicyWatches;
import dev.trellis.proxy.tap.TapHub;
import dev.trellis.proxy.tap.TapServer;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.tls.client.IdentityClient;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.TrustAnchors;
import dev.trellis.wire.grpc.GrpcClient;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running proxy, assembled in one place. Runtime first (event loops, metrics, the
 * credentials store and the identity client that fills it), then the control-plane client
 * (discovery, over mTLS with the proxy's own certificate), then the data plane (inbound
 * listener, forward listeners) and last the admin listener, which reports ready once a
 * certificate is held.
 *
 * <p>{@link #shutdown} drains: listeners stop accepting, open connections get the grace
 * period to finish, then everything closes. Thread-safe.
 */
public final class Proxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Proxy.class);

    private final ProxyConfig config;
    private final IoRuntime io;
    private final CredentialsStore credentials;
    private final IdentityClient identityClient;
    private final Optional<PolicyWatches> policyWatches;
    private final RouteProfiles routeProfiles;
    private final Optional<TapServer> tapServer;
    private final ScheduledExecutorService scheduler;
    private final Discovery discovery;
    private final InboundServer inbound;
    private final OutboundSide outbound;
    /** Empty for a hosted proxy: its node proxy has the one admin listener. */
    private final Optional<AdminServer> admin;
    /** Whether the event loops and the discovery thread are this proxy's own (a sidecar) or its host's. */
    private final boolean ownsRuntime;
    /** A hosted proxy's share of its host's loops, given back on shutdown. */
    private final Optional<AutoCloseable> share;
    private final Clock clock;
    private final OutputStream connectionLogSink;
    private final ConnectionLog connectionLog;
    private final PrometheusRegistry registry;
    private final CountDownLatch terminated = new CountDownLatch(1);
    private volatile boolean shuttingDown;

    /** A hosted proxy's share of its host: the loops (with its sockets), the discovery thread, and whether it has an admin listener of its own. */
    private record Host(IoRuntime io, ScheduledExecutorService scheduler, boolean adminListeners, Optional<AutoCloseable> share) {}

    private Proxy(ProxyConfig config, Clock clock, Optional<Host> host) throws Exception {
        this.config = config;
        this.ownsRuntime = host.isEmpty();
        this.share = host.flatMap(Host::share);
        this.clock = clock;
        this.registry = new PrometheusRegistry();
        ProxyMetrics metrics = new ProxyMetrics(registry);
        ProxyConfig.ControlPlane controlPlane = config.controlPlane();
        ProxyConfig.Timeouts timeouts = config.timeouts();
        ProxyConfig.Listeners listen = config.listeners();
        ProxyConfig.InboundPorts ports = config.inboundPorts();
        TrustAnchors anchors = controlPlane.trustAnchors();

        this.io = host.map(Host::io).orElseGet(() -> IoRuntime.create(1));
        this.credentials = new CredentialsStore(config.identity(), anchors, clock);
        credentials.onInstall(c -> metrics.certificateExpires(c.notAfter()));
        this.identityClient = new IdentityClient(IdentityClient.Config.defaults(config.identity(), controlPlane.identityAddress(),
                controlPlane.identityName(), controlPlane.tokenFile()), credentials, clock,
                Optional.of(new IdentityClient.Transport(io.group(), io.channelType())));
        metrics.renewalFailures(identityClient::consecutiveFailures);
        identityClient.start();

        this.scheduler = host.map(Host::scheduler).orElseGet(() -> Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "trellis-proxy-discovery");
            thread.setDaemon(true);
            return thread;
        }));
        // One connection to the destination service for discovery, profiles and policy: its I/O on the proxy's own event
        // loop, its callbacks on the discovery thread.
        GrpcClient destination = new GrpcClient(new GrpcClient.Config(controlPlane.destinationAddress().host(), controlPlane.destinationAddress().port(),
                controlPlane.destinationName().dnsName(), Optional.of(MeshSslContexts.forGrpcClient(anchors, Optional.of(credentials), clock)), io.group(),
                io.channelType(), scheduler, 4 * 1024 * 1024, timeouts.connect()));
        this.discovery = new Discovery(destination, scheduler, config.identity().namespace(), Duration.ofMillis(500));
        PolicyMetrics policyMetrics = new PolicyMetrics(registry);
        this.policyWatches = config.workload().map(pod -> new PolicyWatches(destination, scheduler, config.identity().namespace(), pod, Duration.ofMillis(500),
                credentials.firstInstalled()));
        InboundPolicy inboundPolicy = new InboundPolicy(policyWatches, timeouts.policyWait(), ports.requireIdentity(), ports.opaque(), InboundPolicy.Fallback.of(ports.defaultPolicy()),
                policyMetrics, new InboundRateLimiter(System::nanoTime), config.identity().trustDomain());
        InboundTargets targets = new InboundTargets(config.ownPorts(), ports.declared(), ports.appHost(),
                policyWatches.map(watches -> (executor, then) -> watches.declaredPorts(timeouts.policyWait(), executor, then)),
                config.identity().namespace() + "/" + config.workload().orElse(config.identity().serviceAccount()));
        if (ports.declared().isEmpty() && config.workload().isEmpty()) {
            log.warn("proxy: no inbound ports declared (--inbound-ports) and no --workload to learn them from: the inbound side forwards to nothing");
        }
        this.connectionLogSink = config.connectionLogFile().isPresent()
                ? new FileOutputStream(config.connectionLogFile().get().toFile(), true) : System.out;
        this.connectionLog = new ConnectionLog(connectionLogSink);
        metrics.connectionLogDropped(connectionLog::dropped);

        HttpMetrics httpMetrics = new HttpMetrics(registry);
        TapHub tapHub = new TapHub();
        this.routeProfiles = new RouteProfiles(destination, scheduler, config.identity().namespace());
        // The outbound side first: its listeners are the proxy's own ports, protected before the inbound side can forward anywhere.
        this.outbound = OutboundSide.start(new OutboundSide.Settings(listen.forwards(), listen.outbound(), ports.opaque(), timeouts.detect(),
                        timeouts.header(), timeouts.connect(), timeouts.request(), timeouts.resolve(), timeouts.policyWait(), listen.maxOpeningPerSource(),
                        config.keyExchange()),
                new OutboundSide.Shared(io, config.identity(), anchors, credentials, clock, discovery, routeProfiles, policyWatches, metrics, httpMetrics,
                        policyMetrics, connectionLog));
        // A forward calls onward as this workload: reaching it from the inbound side would launder the caller's identity.
        outbound.listeners().forEach(listener -> targets.protect(listener.address().getPort()));
        this.inbound = InboundServer.start(new InboundServer.Settings(listen.inbound(), timeouts.detect(), timeouts.connect(), timeouts.header(),
                        ports.requireIdentity(), listen.maxOpeningPerSource(), config.keyExchange()), io, credentials, metrics,
                new InboundServer.HttpObservers(httpMetrics, new InboundServer.ScrapeEndpoint(controlPlane.vizName(), () -> metricsText(registry)), tapHub),
                targets, inboundPolicy, connectionLog, clock);
        targets.protect(inbound.address().getPort());
        this.tapServer = listen.tap().isPresent()
                ? Optional.of(TapServer.start(listen.tap().get(), io, credentials, controlPlane.vizName(), tapHub, clock)) : Optional.empty();
        tapServer.ifPresent(tap -> targets.protect(tap.address().getPort()));

        if (host.map(Host::adminListeners).orElse(true)) {
            AdminServer.Builder adminBuilder = AdminServer.builder("proxy")
                    .listen(listen.admin())
                    .probes(listen.probes())
                    .registry(registry)
                    .readiness(this::notReadyReason)
                    .debug(config.debug());
            if (config.shutdownTokenFile().isPresent()) {
                adminBuilder.shutdown(readShutdownToken(config), () -> shutdown());
            }
            AdminServer started = adminBuilder.build().start();
            targets.protect(started.address().getPort());
            started.probeAddress().ifPresent(probes -> targets.protect(probes.getPort()));
            this.admin = Optional.of(started);
        } else {
            this.admin = Optional.empty();
        }
        log.info("proxy: {} started (TLS {}, {} event loop, {} forwards, sockets {})", config.identity(), MeshSslContexts.providerDescription(),
                io.isEpoll() ? "epoll" : "NIO", outbound.forwardCount(), io.sockets().describe());
    }

    /** Empty when ready; otherwise why not (no certificate yet, say). */
    public Optional<String> notReadyReason() {
        return identityClient.notReadyReason(clock.instant());
    }

    /** Starts a proxy; its identity client starts asking for a certificate at once. */
    public static Proxy start(ProxyConfig config, Clock clock) throws Exception {
        return new Proxy(requireNonNull(config, "config"), requireNonNull(clock, "clock"), Optional.empty());
    }

    /**
     * Starts a proxy hosted by a node proxy: on {@code host}'s loops and discovery thread, its
     * data-plane sockets from {@code sockets}, answering for itself only on its inbound
     * listener (the node proxy's admin listener answers for all). {@link #shutdown} leaves the
     * host running.
     */
    public static Proxy hosted(ProxyConfig config, Clock clock, ProxyHost host, SocketSource sockets) throws Exception {
        requireNonNull(sockets, "sockets");
        return onHost(config, clock, requireNonNull(host, "host"), host.io(sockets), false);
    }

    /**
     * Starts a proxy hosted in this process with sockets of this machine's own network and an
     * admin listener of its own: many workloads' proxies on one JVM's loops (the demo's node mode).
     */
    public static Proxy hostedLocally(ProxyConfig config, Clock clock, ProxyHost host) throws Exception {
        return onHost(config, clock, requireNonNull(host, "host"), host.localIo(), true);
    }

    /** A proxy on {@code host}'s loops with {@code io}'s sockets and a share of the loops of its own, given back if it fails to start. */
    private static Proxy onHost(ProxyConfig config, Clock clock, ProxyHost host, IoRuntime io, boolean adminListener) throws Exception {
        requireNonNull(config, "config");
        var share = host.share(config.identity().namespace() + "/" + config.workload().orElse(config.identity().serviceAccount()));
        try {
            return new Proxy(config, requireNonNull(clock, "clock"), Optional.of(new Host(io.withReadShare(share), host.scheduler(), adminListener, Optional.of(share))));
        } catch (Exception | Error e) {
            share.close();
            throw e;
        }
    }

    public InetSocketAddress inboundAddress() {
        return inbound.address();
    }

    /** The admin listener's address; a hosted proxy may have none. */
    public InetSocketAddress adminAddress() {
        return admin.orElseThrow(() -> new IllegalStateException("proxy: a hosted proxy has no admin listener")).address();
    }

    /** The bound address of the {@code index}th forward, in configuration order. */
    public InetSocketAddress forwardAddress(int index) {
        return outbound.forwardAddress(index);
    }

    /** The tap listener's address, when there is one. */
    public Optional<InetSocketAddress> tapAddress() {
        return tapServer.map(TapServer::address);
    }

    /** The transparent outbound listener's address, when there is one. */
    public Optional<InetSocketAddress> outboundAddress() {
        return outbound.transparentAddress();
    }

    public CredentialsStore credentials() {
        return credentials;
    }

    /** This proxy's metrics in Prometheus's text format, as its scrape endpoint serves them to viz. */
    public String metricsText() {
        return metricsText(registry);
    }

    /**
     * Drains and stops: listeners stop accepting, open connections get
     * {@link ProxyConfig.Timeouts#shutdownGrace} to end, then the rest is closed. Idempotent.
     */
    public void shutdown() {
        synchronized (this) {
            if (shuttingDown) {
                return;
            }
            shuttingDown = true;
        }
        log.info("proxy: shutting down; open connections have {} to finish", config.timeouts().shutdownGrace());
        outbound.drain();
        List<BoundListener> listeners = listeners();
        listeners.forEach(BoundListener::drain);
        long deadline = System.nanoTime() + config.timeouts().shutdownGrace().toNanos();
        while (System.nanoTime() < deadline && openConnections(listeners) > 0) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        int left = openConnections(listeners);
        if (left > 0) {
            log.warn("proxy: closing {} connections still open after the grace period", left);
        }
        listeners.forEach(BoundListener::closeConnections);
        admin.ifPresent(AdminServer::close);
        tapServer.ifPresent(TapServer::close);
        outbound.close();
        policyWatches.ifPresent(PolicyWatches::close);
        routeProfiles.close();
        discovery.close();
        identityClient.close();
        if (ownsRuntime) {
            scheduler.shutdownNow();
        }
        share.ifPresent(s -> {
            try {
                s.close();
            } catch (Exception ignored) {
                // a share's close cannot fail
            }
        });
        io.close();
        connectionLog.close();
        if (connectionLogSink != System.out) {
            try {
                connectionLogSink.close();
            } catch (IOException ignored) {
                // nothing left to log to
            }
        }
        terminated.countDown();
    }

    private List<BoundListener> listeners() {
        List<BoundListener> all = new ArrayList<>();
        all.add(inbound.listener());
        all.addAll(outbound.listeners());
        return all;
    }

    private static int openConnections(List<BoundListener> listeners) {
        return listeners.stream().mapToInt(BoundListener::openConnections).sum();
    }

    private static String metricsText(PrometheusRegistry registry) {
        var out = new java.io.ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Blocks until {@link #shutdown} finished. */
    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    @Override
    public void close() {
        shutdown();
    }

    /**
     * Reads the {@code /shutdown} token, refusing a file others may read: the app shares the
     * pod, and the token must stay the proxy user's (threat-model findings 4 and 11).
     */
    private static String readShutdownToken(ProxyConfig config) throws IOException {
        var file = config.shutdownTokenFile().orElseThrow();
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
        if (permissions.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
            throw new IOException("proxy: shutdown token file " + file + " is readable by others (" + permissions + "); make it 0600 and owned by the proxy's user");
        }
        if (Files.size(file) > 4096) {
            throw new IOException("proxy: shutdown token file " + file + " is larger than 4096 bytes");
        }
        return Files.readString(file, StandardCharsets.UTF_8).strip();
    }
}
