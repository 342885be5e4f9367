package dev.trellis.proxy;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.core.settings.DefaultInboundPolicy;
import dev.trellis.core.sidecar.ProxyPorts;
import dev.trellis.core.time.DurationText;
import dev.trellis.proxy.policy.InboundPolicy;
import dev.trellis.tls.context.KeyExchange;
import dev.trellis.tls.pki.TrustAnchors;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Everything a proxy needs to start, in four parts: where the control plane is
 * ({@link ControlPlane}), where the proxy listens ({@link Listeners}), how the inbound side
 * treats the workload's ports ({@link InboundPorts}), and how long things may take
 * ({@link Timeouts}). Built with {@link #builder}; every default lives in {@link Defaults},
 * which the CLI shows and parses too. Immutable.
 */
public final class ProxyConfig {

    /**
     * The defaults, as operators write them. The CLI puts these very strings in its help and
     * the builder parses them, so the two cannot disagree.
     */
    public static final class Defaults {
        public static final String INBOUND = "0.0.0.0:" + ProxyPorts.INBOUND;
        public static final String OUTBOUND = "127.0.0.1:" + ProxyPorts.OUTBOUND;
        public static final String ADMIN = "127.0.0.1:" + ProxyPorts.ADMIN;
        public static final String TAP = "0.0.0.0:" + ProxyPorts.TAP;
        /** Where the injector puts the probe-only listener (off unless asked). */
        public static final String PROBE = "0.0.0.0:" + ProxyPorts.PROBES;
        /** Server-speaks-first and otherwise undetectable protocols, as Linkerd's default list. */
        public static final String OPAQUE_PORTS = "25,587,3306,4444,5432,6379,9300,11211";
        public static final String DEFAULT_INBOUND_POLICY = "all-unauthenticated";
        public static final String DETECT_TIMEOUT = "10s";
        public static final String HEADER_TIMEOUT = "10s";
        public static final String CONNECT_TIMEOUT = "5s";
        public static final String REQUEST_TIMEOUT = "10s";
        public static final String RESOLVE_TIMEOUT = "10s";
        public static final String POLICY_WAIT = "5s";
        public static final String SHUTDOWN_GRACE = "30s";
        /** Connections one source may have still opening (before their first request head, handshake or header) on one listener. */
        public static final String MAX_OPENING_PER_SOURCE = "256";
        /** Mesh TLS key exchange: X25519MLKEM768 first, X25519 and P-256 after. */
        public static final String TLS_KEY_EXCHANGE = "hybrid";

        private Defaults() {
        }

        static Set<Integer> ports(String text) {
            return Arrays.stream(text.split(",")).map(String::strip).filter(s -> !s.isEmpty()).map(Integer::valueOf).collect(Collectors.toUnmodifiableSet());
        }
    }

    /** The Linkerd-compatible port numbers, for code that needs them as numbers. */
    public static final int DEFAULT_INBOUND_PORT = HostPort.parse(Defaults.INBOUND).port();
    public static final int DEFAULT_OUTBOUND_PORT = HostPort.parse(Defaults.OUTBOUND).port();
    public static final int DEFAULT_ADMIN_PORT = HostPort.parse(Defaults.ADMIN).port();
    public static final int DEFAULT_TAP_PORT = HostPort.parse(Defaults.TAP).port();
    public static final int DEFAULT_PROBE_PORT = HostPort.parse(Defaults.PROBE).port();
    public static final Set<Integer> DEFAULT_OPAQUE_PORTS = Defaults.ports(Defaults.OPAQUE_PORTS);

    /**
     * Where the control plane is and who it must be.
     *
     * @param trustAnchors        the mesh roots
     * @param identityAddress     the identity service
     * @param identityName        the identity the identity service must present
     * @param tokenFile           proof of the proxy's identity for the identity service; read anew at every renewal
     * @param destinationAddress  the destination service
     * @param destinationName     the identity the destination service must present
     * @param vizName             the identity that may scrape this proxy's metrics and tap it
     */
    public record ControlPlane(TrustAnchors trustAnchors, HostPort identityAddress, WorkloadIdentity identityName, Path tokenFile,
                               HostPort destinationAddress, WorkloadIdentity destinationName, WorkloadIdentity vizName) {
        public ControlPlane {
            requireNonNull(trustAnchors, "trustAnchors");
            requireNonNull(identityAddress, "identityAddress");
            requireNonNull(identityName, "identityName");
            requireNonNull(tokenFile, "tokenFile");
            requireNonNull(destinationAddress, "destinationAddress");
            requireNonNull(destinationName, "destinationName");
            requireNonNull(vizName, "vizName");
        }
    }

    /**
     * Where the proxy listens.
     *
     * @param inbound  mesh mTLS, and in transparent mode redirected inbound traffic
     * @param outbound redirected outbound traffic (transparent mode); empty: none
     * @param admin    {@code /live /ready /metrics}; loopback
     * @param probes   {@code /live /ready} only, for the kubelet on the pod address; empty: none
     * @param tap      live requests over mTLS for the viz identity; empty: none
     * @param forwards local ports for destinations (explicit mode)
     * @param maxOpeningPerSource connections one source may have still opening on one listener; more are closed at once
     */
    public record Listeners(HostPort inbound, Optional<HostPort> outbound, HostPort admin, Optional<HostPort> probes, Optional<HostPort> tap,
                            List<Forward> forwards, int maxOpeningPerSource) {
        public Listeners {
            if (maxOpeningPerSource < 1) {
                throw new IllegalArgumentException("proxy: max opening connections per source must be at least 1, got " + maxOpeningPerSource);
            }
            requireNonNull(inbound, "inbound");
            requireNonNull(outbound, "outbound");
            requireNonNull(admin, "admin");
            requireNonNull(probes, "probes");
            requireNonNull(tap, "tap");
            forwards = List.copyOf(forwards);
        }
    }

    /**
     * How the inbound side treats the workload's ports.
     *
     * @param declared             ports the workload declares (its container ports): the inbound side forwards
     *                             to these, and, with a workload, to those the destination service declares
     *                             for it; never to any other
     * @param appHost              where the app listens; empty: the address the connection arrived on (the pod's)
     * @param requireIdentity      ports on which connections without mesh TLS are refused even when redirected
     * @param opaque               ports whose redirected inbound connections skip protocol detection
     * @param defaultPolicy        what applies to a port while its policy is unknown
     */
    public record InboundPorts(Set<Integer> declared, Optional<String> appHost, Set<Integer> requireIdentity, Set<Integer> opaque,
                               DefaultInboundPolicy defaultPolicy) {
        public InboundPorts {
            declared = Set.copyOf(declared);
            requireNonNull(appHost, "appHost");
            requireIdentity = Set.copyOf(requireIdentity);
            opaque = Set.copyOf(opaque);
            requireNonNull(defaultPolicy, "defaultPolicy");
            for (Set<Integer> ports : List.of(declared, requireIdentity, opaque)) {
                ports.forEach(ProxyConfig::requirePort);
            }
        }
    }

    /**
     * How long things may take.
     *
     * @param detect        protocol detection waits this long for a client's first bytes, then treats the connection as opaque
     * @param header        a client has this long in total to send a request head or transport header, however it trickles
     * @param connect       connecting to endpoints and the app
     * @param request       an HTTP request waits this long for its response (504 after)
     * @param resolve       a new destination waits this long for discovery's first answer
     * @param policyWait    a first connection to a port waits this long for its policy before the fallback applies
     * @param shutdownGrace open connections may finish this long after SIGTERM
     */
    public record Timeouts(Duration detect, Duration header, Duration connect, Duration request, Duration resolve, Duration policyWait,
                           Duration shutdownGrace) {
        public Timeouts {
            positive("detect timeout", detect);
            positive("header timeout", header);
            positive("connect timeout", connect);
            positive("request timeout", request);
            positive("resolve timeout", resolve);
            positive("policy wait", policyWait);
            requireNonNull(shutdownGrace, "shutdownGrace");
            if (shutdownGrace.isNegative()) {
                throw new IllegalArgumentException("proxy: shutdown grace " + shutdownGrace + " is negative");
            }
        }
    }

    private final WorkloadIdentity identity;
    private final ControlPlane controlPlane;
    private final Listeners listeners;
    private final InboundPorts inboundPorts;
    private final Timeouts timeouts;
    private final Optional<String> workload;
    private final Optional<Path> shutdownTokenFile;
    private final Optional<Path> connectionLogFile;
    private final boolean debug;
    private final KeyExchange keyExchange;

    private ProxyConfig(Builder b) {
        this.keyExchange = requireNonNull(b.keyExchange, "keyExchange");
        this.identity = b.identity;
        String td = identity.trustDomain();
        this.controlPlane = new ControlPlane(b.trustAnchors, b.identityAddress,
                b.identityName != null ? b.identityName : ControlPlaneComponent.IDENTITY.identity(td), b.tokenFile,
                b.destinationAddress, b.destinationName != null ? b.destinationName : ControlPlaneComponent.DESTINATION.identity(td),
                b.vizName != null ? b.vizName : ControlPlaneComponent.VIZ.identity(td));
        this.listeners = new Listeners(b.inbound, b.outbound, b.admin, b.probes, b.tap, b.forwards, b.maxOpeningPerSource);
        this.inboundPorts = new InboundPorts(b.declaredPorts, b.appHost, b.requireIdentityPorts, b.opaquePorts, b.defaultInboundPolicy);
        this.timeouts = new Timeouts(b.detectTimeout, b.headerTimeout, b.connectTimeout, b.requestTimeout, b.resolveTimeout, b.policyWait, b.shutdownGrace);
        this.workload = requireNonNull(b.workload, "workload");
        if (workload.isPresent() && !workload.get().matches("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")) {
            throw new IllegalArgumentException("proxy: workload '" + workload.get() + "' is not a Kubernetes object name");
        }
        this.shutdownTokenFile = requireNonNull(b.shutdownTokenFile, "shutdownTokenFile");
        this.connectionLogFile = requireNonNull(b.connectionLogFile, "connectionLogFile");
        this.debug = b.debug;
    }

    /** A builder for {@code identity}'s proxy, with every default; the control plane's addresses, the trust anchors and the token are required. */
    public static Builder builder(WorkloadIdentity identity) {
        return new Builder(requireNonNull(identity, "identity"));
    }

    /** A builder holding this configuration, to change a part of it. */
    public Builder toBuilder() {
        return toBuilder(identity);
    }

    /** A builder holding this configuration for another workload's {@code identity}: what a node proxy starts each pod's proxy from. */
    public Builder toBuilder(WorkloadIdentity identity) {
        Builder b = new Builder(requireNonNull(identity, "identity"));
        b.trustAnchors = controlPlane.trustAnchors();
        b.identityAddress = controlPlane.identityAddress();
        b.identityName = controlPlane.identityName();
        b.tokenFile = controlPlane.tokenFile();
        b.destinationAddress = controlPlane.destinationAddress();
        b.destinationName = controlPlane.destinationName();
        b.vizName = controlPlane.vizName();
        b.inbound = listeners.inbound();
        b.outbound = listeners.outbound();
        b.admin = listeners.admin();
        b.tap = listeners.tap();
        b.probes = listeners.probes();
        b.forwards = new ArrayList<>(listeners.forwards());
        b.maxOpeningPerSource = listeners.maxOpeningPerSource();
        b.declaredPorts = inboundPorts.declared();
        b.appHost = inboundPorts.appHost();
        b.requireIdentityPorts = inboundPorts.requireIdentity();
        b.opaquePorts = inboundPorts.opaque();
        b.defaultInboundPolicy = inboundPorts.defaultPolicy();
        b.detectTimeout = timeouts.detect();
        b.headerTimeout = timeouts.header();
        b.connectTimeout = timeouts.connect();
        b.requestTimeout = timeouts.request();
        b.resolveTimeout = timeouts.resolve();
        b.policyWait = timeouts.policyWait();
        b.shutdownGrace = timeouts.shutdownGrace();
        b.workload = workload;
        b.shutdownTokenFile = shutdownTokenFile;
        b.connectionLogFile = connectionLogFile;
        b.debug = debug;
        b.keyExchange = keyExchange;
        return b;
    }

    /** This workload's identity. */
    public WorkloadIdentity identity() {
        return identity;
    }

    public ControlPlane controlPlane() {
        return controlPlane;
    }

    public Listeners listeners() {
        return listeners;
    }

    public InboundPorts inboundPorts() {
        return inboundPorts;
    }

    public Timeouts timeouts() {
        return timeouts;
    }

    /** This pod's name (namespace from the identity): with it the proxy watches its policy; empty: no policy watches. */
    public Optional<String> workload() {
        return workload;
    }

    /** Enables {@code /shutdown} with the bearer token in this file. */
    public Optional<Path> shutdownTokenFile() {
        return shutdownTokenFile;
    }

    /** Where connection-log lines go; empty: standard output. */
    public Optional<Path> connectionLogFile() {
        return connectionLogFile;
    }

    /** Serve {@code /debug/*} on the admin listener. */
    public boolean debug() {
        return debug;
    }

    /** The key-exchange groups mesh connections offer. */
    public KeyExchange keyExchange() {
        return keyExchange;
    }

    /**
     * Ports of this proxy that inbound traffic must never be forwarded to: every listener it
     * has (forwards included) and the well-known ones, whatever it was configured with.
     */
    Set<Integer> ownPorts() {
        IntStream configured = IntStream.concat(
                IntStream.of(listeners.inbound().port(), listeners.admin().port(), listeners.outbound().map(HostPort::port).orElse(0),
                        listeners.tap().map(HostPort::port).orElse(0), listeners.probes().map(HostPort::port).orElse(0)),
                listeners.forwards().stream().mapToInt(f -> f.listen().port()));
        return IntStream.concat(configured, IntStream.of(DEFAULT_OUTBOUND_PORT, DEFAULT_TAP_PORT, DEFAULT_ADMIN_PORT, DEFAULT_INBOUND_PORT, DEFAULT_PROBE_PORT))
                .filter(port -> port != 0).boxed().collect(Collectors.toUnmodifiableSet());
    }

    private static void positive(String what, Duration value) {
        if (value == null || value.isZero() || value.isNegative()) {
            throw new IllegalArgumentException("proxy: " + what + " must be positive, got " + value);
        }
    }

    private static void requirePort(int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("proxy: port " + port + " is outside 1-65535");
        }
    }

    /** Builds a {@link ProxyConfig}; starts from {@link Defaults}. Not thread-safe. */
    public static final class Builder {
        private final WorkloadIdentity identity;
        private TrustAnchors trustAnchors;
        private Path trustAnchorFile;
        private HostPort identityAddress;
        private WorkloadIdentity identityName;
        private Path tokenFile;
        private HostPort destinationAddress;
        private WorkloadIdentity destinationName;
        private WorkloadIdentity vizName;
        private HostPort inbound = HostPort.parse(Defaults.INBOUND);
        private Optional<HostPort> outbound = Optional.of(HostPort.parse(Defaults.OUTBOUND));
        private HostPort admin = HostPort.parse(Defaults.ADMIN);
        private Optional<HostPort> tap = Optional.of(HostPort.parse(Defaults.TAP));
        private Optional<HostPort> probes = Optional.empty();
        private List<Forward> forwards = new ArrayList<>();
        private int maxOpeningPerSource = Integer.parseInt(Defaults.MAX_OPENING_PER_SOURCE);
        private Set<Integer> declaredPorts = Set.of();
        private Optional<String> appHost = Optional.empty();
        private Set<Integer> requireIdentityPorts = Set.of();
        private Set<Integer> opaquePorts = DEFAULT_OPAQUE_PORTS;
        private DefaultInboundPolicy defaultInboundPolicy = DefaultInboundPolicy.parse(Defaults.DEFAULT_INBOUND_POLICY);
        private Duration detectTimeout = DurationText.parse(Defaults.DETECT_TIMEOUT);
        private Duration headerTimeout = DurationText.parse(Defaults.HEADER_TIMEOUT);
        private Duration connectTimeout = DurationText.parse(Defaults.CONNECT_TIMEOUT);
        private Duration requestTimeout = DurationText.parse(Defaults.REQUEST_TIMEOUT);
        private Duration resolveTimeout = DurationText.parse(Defaults.RESOLVE_TIMEOUT);
        private Duration policyWait = DurationText.parse(Defaults.POLICY_WAIT);
        private Duration shutdownGrace = DurationText.parse(Defaults.SHUTDOWN_GRACE);
        private Optional<String> workload = Optional.empty();
        private Optional<Path> shutdownTokenFile = Optional.empty();
        private Optional<Path> connectionLogFile = Optional.empty();
        private boolean debug;
        private KeyExchange keyExchange = KeyExchange.parse(Defaults.TLS_KEY_EXCHANGE);

        private Builder(WorkloadIdentity identity) {
            this.identity = identity;
        }

        /** The mesh roots from a PEM file, read when the configuration is built. */
        public Builder trustAnchorFile(Path file) {
            this.trustAnchorFile = file;
            this.trustAnchors = null;
            return this;
        }

        /** The mesh roots themselves (an injected proxy gets them as PEM in its environment). */
        public Builder trustAnchors(TrustAnchors anchors) {
            this.trustAnchors = anchors;
            this.trustAnchorFile = null;
            return this;
        }

        public Builder tokenFile(Path file) {
            this.tokenFile = file;
            return this;
        }

        public Builder identityService(HostPort address) {
            this.identityAddress = address;
            return this;
        }

        /** The identity the identity service presents; default: its standard identity in this trust domain. */
        public Builder identityServiceName(WorkloadIdentity name) {
            this.identityName = name;
            return this;
        }

        public Builder destinationService(HostPort address) {
            this.destinationAddress = address;
            return this;
        }

        /** The identity the destination service presents; default: its standard identity in this trust domain. */
        public Builder destinationServiceName(WorkloadIdentity name) {
            this.destinationName = name;
            return this;
        }

        /** The identity that may scrape metrics and tap; default the viz service of the {@code trellis} namespace. */
        public Builder vizName(WorkloadIdentity name) {
            this.vizName = name;
            return this;
        }

        public Builder inbound(HostPort listen) {
            this.inbound = listen;
            return this;
        }

        public Builder outbound(Optional<HostPort> listen) {
            this.outbound = listen;
            return this;
        }

        public Builder admin(HostPort listen) {
            this.admin = listen;
            return this;
        }

        /** A listener for the kubelet: {@code /live} and {@code /ready} only. */
        public Builder probes(Optional<HostPort> listen) {
            this.probes = listen;
            return this;
        }

        public Builder tap(Optional<HostPort> listen) {
            this.tap = listen;
            return this;
        }

        public Builder forwards(List<Forward> forwards) {
            this.forwards = new ArrayList<>(forwards);
            return this;
        }

        public Builder maxOpeningPerSource(int max) {
            this.maxOpeningPerSource = max;
            return this;
        }

        public Builder declaredPorts(Set<Integer> ports) {
            this.declaredPorts = ports;
            return this;
        }

        /** Where the app listens; default: the address each inbound connection arrived on. */
        public Builder appHost(Optional<String> host) {
            this.appHost = host;
            return this;
        }

        public Builder requireIdentityPorts(Set<Integer> ports) {
            this.requireIdentityPorts = ports;
            return this;
        }

        public Builder opaquePorts(Set<Integer> ports) {
            this.opaquePorts = ports;
            return this;
        }

        public Builder defaultInboundPolicy(DefaultInboundPolicy policy) {
            this.defaultInboundPolicy = policy;
            return this;
        }

        public Builder detectTimeout(Duration timeout) {
            this.detectTimeout = timeout;
            return this;
        }

        public Builder headerTimeout(Duration timeout) {
            this.headerTimeout = timeout;
            return this;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = timeout;
            return this;
        }

        public Builder resolveTimeout(Duration timeout) {
            this.resolveTimeout = timeout;
            return this;
        }

        public Builder policyWait(Duration wait) {
            this.policyWait = wait;
            return this;
        }

        public Builder shutdownGrace(Duration grace) {
            this.shutdownGrace = grace;
            return this;
        }

        public Builder workload(Optional<String> pod) {
            this.workload = pod;
            return this;
        }

        public Builder shutdownTokenFile(Optional<Path> file) {
            this.shutdownTokenFile = file;
            return this;
        }

        public Builder connectionLogFile(Optional<Path> file) {
            this.connectionLogFile = file;
            return this;
        }

        public Builder keyExchange(KeyExchange keyExchange) {
            this.keyExchange = keyExchange;
            return this;
        }

        public Builder debug(boolean debug) {
            this.debug = debug;
            return this;
        }

        /** @throws IllegalArgumentException naming the first setting that is missing or out of range */
        public ProxyConfig build() {
            if ((trustAnchors == null && trustAnchorFile == null) || identityAddress == null || tokenFile == null || destinationAddress == null) {
                throw new IllegalArgumentException("proxy: the trust anchors, the identity and destination services' addresses and the token file are required");
            }
            if (trustAnchors == null) {
                try {
                    trustAnchors = TrustAnchors.read(trustAnchorFile);
                } catch (java.io.IOException e) {
                    throw new IllegalArgumentException("proxy: cannot read the trust anchors: " + e.getMessage(), e);
                }
            }
            return new ProxyConfig(this);
        }
    }
}
