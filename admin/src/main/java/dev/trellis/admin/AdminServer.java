package dev.trellis.admin;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;
import dev.trellis.core.version.TrellisVersion;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.prometheus.metrics.core.metrics.Info;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 server for health checks and metrics.
 *
 * <p>Routes: {@code GET /live} (200 while the process runs), {@code GET /ready} (200 or 503
 * with the reason), {@code GET /metrics} (Prometheus text format of the given registry).
 * {@code /debug/threads} (a thread dump) exists only when built with {@code debug(true)};
 * without it every {@code /debug/...} path is a plain 404, so nothing reveals that debug
 * pages exist at all.
 *
 * <p>Limits: request line 4 KiB, headers 8 KiB, body 0 (bodies are refused), 64 open
 * connections, {@value #REQUEST_DEADLINE_SECONDS} s to send a whole request, counted from the
 * connection (or the previous answer) and not extended by trickling bytes. When all 64 are
 * open, a new connection closes the oldest one still waiting for its request, so that a
 * slowloris client cannot keep the kubelet's probes out (an outside review saw {@code /ready}
 * fail 61 times in 76 under such a flood). Start with {@link #start}; stop with {@link #close}.
 *
 * <p>In a cluster the kubelet probes over the pod's address, yet {@code /metrics} (and
 * {@code /shutdown}, {@code /debug}) must stay on loopback (threat-model findings 4, 5, 7):
 * {@link Builder#probes} adds a second listener that answers {@code /live} and
 * {@code /ready} and nothing else (every other path is a 404), with its own connection limit,
 * so a flood on the pod address cannot crowd out loopback users and the reverse.
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    static final int MAX_INITIAL_LINE = 4096;
    static final int MAX_HEADER_BYTES = 8192;
    static final int MAX_CONNECTIONS = 64;
    static final int REQUEST_DEADLINE_SECONDS = 5;

    private final HostPort listen;
    private final PrometheusRegistry registry;
    private final Readiness readiness;
    private final boolean debug;
    private final byte[] shutdownToken;
    private final Runnable shutdownAction;
    private final String component;
    private final Info buildInfo;
    private final Optional<HostPort> probes;
    private EventLoopGroup group;
    private BoundedHttpListener admin;
    private BoundedHttpListener probeListener;

    private AdminServer(Builder builder) {
        this.listen = requireNonNull(builder.listen, "listen");
        this.registry = requireNonNull(builder.registry, "registry");
        this.readiness = requireNonNull(builder.readiness, "readiness");
        this.debug = builder.debug;
        this.shutdownToken = builder.shutdownToken == null ? null : builder.shutdownToken.getBytes(StandardCharsets.UTF_8);
        this.shutdownAction = builder.shutdownAction;
        this.component = requireNonNull(builder.component, "component");
        this.probes = requireNonNull(builder.probes, "probes");
        this.buildInfo = Info.builder().name("trellis_build_info")
                .help("Trellis version of this component; always 1")
                .labelNames("component", "version")
                .build();
        buildInfo.setLabelValues(component, TrellisVersion.current());
    }

    public static Builder builder(String component) {
        return new Builder(component);
    }

    /** Binds the listener (and the probe listener, when asked). */
    public AdminServer start() throws InterruptedException {
        if (!listen.isLoopback()) {
            log.warn("{}: admin listener on {} is not loopback; /metrics and /ready are reachable from the network", component, listen);
        }
        registry.register(buildInfo);
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        BoundedHttpListener.Limits limits = new BoundedHttpListener.Limits(MAX_INITIAL_LINE, MAX_HEADER_BYTES, 0, MAX_CONNECTIONS,
                Duration.ofSeconds(REQUEST_DEADLINE_SECONDS));
        try {
            admin = BoundedHttpListener.start(component + " admin", group, listen, Optional.empty(), limits,
                    (request, peer) -> CompletableFuture.completedFuture(route(request, false)));
            if (probes.isPresent()) {
                probeListener = BoundedHttpListener.start(component + " probes", group, probes.get(), Optional.empty(), limits,
                        (request, peer) -> CompletableFuture.completedFuture(route(request, true)));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        log.info("{}: admin listening on {}{}{}", component, address(), debug ? " (debug pages ON)" : "",
                probeListener == null ? "" : "; probes (/live, /ready only) on " + probeListener.address());
        return this;
    }

    /** The bound address (the real port when started on port 0). */
    public InetSocketAddress address() {
        return admin.address();
    }

    /** The probe listener's bound address, when there is one. */
    public Optional<InetSocketAddress> probeAddress() {
        return Optional.ofNullable(probeListener).map(BoundedHttpListener::address);
    }

    @Override
    public void close() {
        if (admin != null) {
            admin.close();
        }
        if (probeListener != null) {
            probeListener.close();
        }
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            registry.unregister(buildInfo);
        }
    }

    /** The answer to one request; the probe listener knows {@code /live} and {@code /ready} only. */
    private FullHttpResponse route(FullHttpRequest request, boolean probesOnly) {
        String path = new QueryStringDecoder(request.uri()).path();
        if (path.equals("/shutdown") && shutdownAction != null && !probesOnly) {
            return shutdown(request);
        }
        boolean known = switch (path) {
            case "/live", "/ready" -> true;
            case "/metrics" -> !probesOnly;
            case "/debug/threads" -> debug && !probesOnly;
            default -> false;
        };
        if (!known) {
            return text(HttpResponseStatus.NOT_FOUND, "not found\n");
        }
        if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
            return text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET is served here\n");
        }
        return switch (path) {
            case "/live" -> text(HttpResponseStatus.OK, "live\n");
            case "/ready" -> readiness.notReadyReason()
                    .map(reason -> text(HttpResponseStatus.SERVICE_UNAVAILABLE, "not ready: " + reason + "\n"))
                    .orElseGet(() -> text(HttpResponseStatus.OK, "ready\n"));
            case "/metrics" -> BoundedHttpListener.text(HttpResponseStatus.OK, PrometheusTextFormatWriter.CONTENT_TYPE, metrics());
            default -> text(HttpResponseStatus.OK, threadDump());
        };
    }

    private FullHttpResponse shutdown(FullHttpRequest request) {
        if (!request.method().equals(HttpMethod.POST)) {
            return text(HttpResponseStatus.METHOD_NOT_ALLOWED, "POST only\n");
        }
        String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (authorization == null || !authorization.startsWith("Bearer ")) {
            log.warn("{}: /shutdown without a bearer token refused", component);
            return text(HttpResponseStatus.UNAUTHORIZED, "shutdown needs Authorization: Bearer <token>\n");
        }
        byte[] offered = authorization.substring("Bearer ".length()).strip().getBytes(StandardCharsets.UTF_8);
        if (!java.security.MessageDigest.isEqual(offered, shutdownToken)) {
            log.warn("{}: /shutdown with a wrong token refused", component);
            return text(HttpResponseStatus.FORBIDDEN, "wrong shutdown token\n");
        }
        log.info("{}: shutdown requested through the admin listener", component);
        Thread.ofPlatform().name(component + "-admin-shutdown").start(shutdownAction);
        FullHttpResponse accepted = text(HttpResponseStatus.ACCEPTED, "shutting down\n");
        accepted.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return accepted;
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        return BoundedHttpListener.text(status, "text/plain", body);
    }

    private String metrics() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String threadDump() {
        StringBuilder out = new StringBuilder();
        for (ThreadInfo info : ManagementFactory.getThreadMXBean().dumpAllThreads(false, false)) {
            out.append(info);
        }
        return out.toString();
    }

    /** Builds an {@link AdminServer}. */
    public static final class Builder {
        private final String component;
        private HostPort listen = new HostPort("127.0.0.1", 0);
        private PrometheusRegistry registry = new PrometheusRegistry();
        private Readiness readiness = Optional::empty;
        private boolean debug;
        private String shutdownToken;
        private Runnable shutdownAction;
        private Optional<HostPort> probes = Optional.empty();

        private Builder(String component) {
            this.component = component;
        }

        public Builder listen(HostPort listen) {
            this.listen = listen;
            return this;
        }

        public Builder registry(PrometheusRegistry registry) {
            this.registry = registry;
            return this;
        }

        public Builder readiness(Readiness readiness) {
            this.readiness = readiness;
            return this;
        }

        /** Serves {@code /debug/*} pages; off unless the operator asked with {@code --debug}. */
        public Builder debug(boolean debug) {
            this.debug = debug;
            return this;
        }

        /**
         * Serves {@code POST /shutdown}, which runs {@code action} when the request carries
         * {@code Authorization: Bearer <token>}. Without this call the path does not exist
         * (threat-model finding 4).
         */
        public Builder shutdown(String token, Runnable action) {
            if (token == null || token.length() < 16) {
                throw new IllegalArgumentException(component + ": the shutdown token must have at least 16 characters");
            }
            this.shutdownToken = token;
            this.shutdownAction = requireNonNull(action, "action");
            return this;
        }

        /**
         * Also listens on {@code probes} (the pod's address, for the kubelet) for {@code /live}
         * and {@code /ready} only; empty: no such listener.
         */
        public Builder probes(Optional<HostPort> probes) {
            this.probes = requireNonNull(probes, "probes");
            return this;
        }

        public AdminServer build() {
            return new AdminServer(this);
        }
    }
}
