package dev.trellis.cli;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.core.settings.DefaultInboundPolicy;
import dev.trellis.core.sidecar.ProxyEnvironment;
import dev.trellis.proxy.Forward;
import dev.trellis.proxy.Proxy;
import dev.trellis.proxy.ProxyConfig;
import dev.trellis.tls.pki.TrustAnchors;
import io.netty.util.ResourceLeakDetector;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code trellis proxy}: the sidecar. Every setting is a {@code TRELLIS_PROXY_*} environment
 * variable (what the injector sets) or the equal flag; a flag wins over the variable.
 */
@Command(mixinStandardHelpOptions = true, name = "proxy", sortOptions = false, description = {
        "Run the sidecar proxy: gets its certificate from the identity service, resolves through the destination service,",
        "accepts mesh mTLS on the inbound port and carries opaque TCP from --forward ports to meshed endpoints.",
        "Each flag can also be set with the environment variable named in its description."})
final class ProxyCommand implements Callable<Integer> {

    @Option(names = "--identity", paramLabel = "SPIFFE_ID", defaultValue = "${env:" + ProxyEnvironment.IDENTITY + "}",
            description = "This workload's identity. " + ProxyEnvironment.IDENTITY + ". Required.")
    String identity;

    @Option(names = "--trust-anchor", paramLabel = "FILE", defaultValue = "${env:" + ProxyEnvironment.TRUST_ANCHOR + "}",
            description = "File of the mesh's PEM trust anchors. " + ProxyEnvironment.TRUST_ANCHOR + ". This or --trust-anchors-pem is required.")
    Path trustAnchor;

    @Option(names = "--trust-anchors-pem", paramLabel = "PEM", defaultValue = "${env:" + ProxyEnvironment.TRUST_ANCHORS_PEM + "}",
            description = "The mesh's trust anchors as PEM text (the injector puts them in this variable: a pod cannot mount "
                    + "a ConfigMap of the control plane's namespace). " + ProxyEnvironment.TRUST_ANCHORS_PEM + ".")
    String trustAnchorsPem;

    @Option(names = "--identity-addr", paramLabel = "HOST:PORT", defaultValue = "${env:" + ProxyEnvironment.IDENTITY_ADDR + "}",
            description = "The identity service. " + ProxyEnvironment.IDENTITY_ADDR + ". Required.")
    HostPort identityAddr;

    @Option(names = "--identity-name", paramLabel = "SPIFFE_ID", defaultValue = "${env:" + ProxyEnvironment.IDENTITY_NAME + "}",
            description = "Identity the identity service presents (default spiffe://<td>/ns/trellis/sa/trellis-identity). " + ProxyEnvironment.IDENTITY_NAME + ".")
    String identityName;

    @Option(names = "--token-file", paramLabel = "FILE", defaultValue = "${env:" + ProxyEnvironment.TOKEN_FILE + "}",
            description = "Token proving the identity (read anew at each renewal). " + ProxyEnvironment.TOKEN_FILE + ". Required.")
    Path tokenFile;

    @Option(names = "--destination-addr", paramLabel = "HOST:PORT", defaultValue = "${env:" + ProxyEnvironment.DESTINATION_ADDR + "}",
            description = "The destination service. " + ProxyEnvironment.DESTINATION_ADDR + ". Required.")
    HostPort destinationAddr;

    @Option(names = "--destination-name", paramLabel = "SPIFFE_ID", defaultValue = "${env:" + ProxyEnvironment.DESTINATION_NAME + "}",
            description = "Identity the destination service presents (default spiffe://<td>/ns/trellis/sa/trellis-destination). " + ProxyEnvironment.DESTINATION_NAME + ".")
    String destinationName;

    @Option(names = "--viz-name", paramLabel = "SPIFFE_ID", defaultValue = "${env:" + ProxyEnvironment.VIZ_NAME + "}",
            description = "Identity that may scrape this proxy's metrics and tap it (default spiffe://<td>/ns/trellis/sa/trellis-viz). " + ProxyEnvironment.VIZ_NAME + ".")
    String vizName;

    @Option(names = "--inbound", paramLabel = "HOST:PORT", defaultValue = "${env:" + ProxyEnvironment.INBOUND + "}",
            description = "Inbound listener (mesh mTLS). " + ProxyEnvironment.INBOUND + ". Default " + ProxyConfig.Defaults.INBOUND + ".")
    HostPort inbound;

    @Option(names = "--outbound", paramLabel = "HOST:PORT|off", defaultValue = "${env:" + ProxyEnvironment.OUTBOUND + "}",
            description = "Outbound listener for connections iptables redirects (transparent mode); 'off' for none. " + ProxyEnvironment.OUTBOUND + ". Default "
                    + ProxyConfig.Defaults.OUTBOUND + ".")
    String outbound;

    @Option(names = "--inbound-ports", paramLabel = "PORT", split = ",", defaultValue = "${env:" + ProxyEnvironment.INBOUND_PORTS + "}",
            description = "The app's ports (the pod's container ports): the only ones inbound traffic is forwarded to, besides those the "
                    + "destination service declares for --workload. " + ProxyEnvironment.INBOUND_PORTS + ".")
    List<Integer> inboundPorts;

    @Option(names = "--require-identity-ports", paramLabel = "PORT", split = ",", defaultValue = "${env:" + ProxyEnvironment.REQUIRE_IDENTITY_PORTS + "}",
            description = "Inbound ports where connections without mesh TLS are refused even when redirected. " + ProxyEnvironment.REQUIRE_IDENTITY_PORTS + ".")
    List<Integer> requireIdentityPorts;

    @Option(names = "--opaque-ports", paramLabel = "PORT", split = ",", defaultValue = "${env:" + ProxyEnvironment.OPAQUE_PORTS + "}",
            description = "Ports whose redirected inbound connections skip protocol detection (server-speaks-first protocols). " + ProxyEnvironment.OPAQUE_PORTS + ". Default "
                    + ProxyConfig.Defaults.OPAQUE_PORTS + ".")
    List<Integer> opaquePorts;

    @Option(names = "--admin", paramLabel = "HOST:PORT", defaultValue = "${env:" + ProxyEnvironment.ADMIN + "}",
            description = "Admin listener: /live /ready /metrics. " + ProxyEnvironment.ADMIN + ". Default " + ProxyConfig.Defaults.ADMIN + ".")
    HostPort admin;

    @Option(names = "--probe", paramLabel = "HOST:PORT", defaultValue = "${env:" + ProxyEnvironment.PROBE + "}",
            description = "Also answer /live and /ready (nothing else) here, for the kubelet. " + ProxyEnvironment.PROBE + ". Off by default (the injector sets "
                    + ProxyConfig.Defaults.PROBE + ").")
    HostPort probe;

    @Option(names = "--app-host", defaultValue = "${env:" + ProxyEnvironment.APP_HOST + "}",
            description = "Where the app listens, for inbound traffic. " + ProxyEnvironment.APP_HOST + ". Default: the address each connection arrived on "
                    + "(the pod's), or 127.0.0.1 for ports the pod declares loopback-only.")
    String appHost;

    @Option(names = "--forward", paramLabel = "PORT=HOST:PORT", split = ",", defaultValue = "${env:" + ProxyEnvironment.FORWARDS + "}",
            description = "Open a local port for an opaque destination, e.g. 6379=redis.cache.svc.cluster.local:6379 (repeat, or comma-separate). " + ProxyEnvironment.FORWARDS + ".")
    List<String> forwards;

    @Option(names = "--detect-timeout", defaultValue = "${env:" + ProxyEnvironment.DETECT_TIMEOUT + "}",
            description = "How long protocol detection waits for a client's first bytes. " + ProxyEnvironment.DETECT_TIMEOUT + ". Default " + ProxyConfig.Defaults.DETECT_TIMEOUT + ".")
    Duration detectTimeout;

    @Option(names = "--header-timeout", defaultValue = "${env:" + ProxyEnvironment.HEADER_TIMEOUT + "}",
            description = "A client has this long in all to send a mesh handshake and transport header, or an HTTP/1 request (head and body); trickling bytes "
                    + "do not extend it. " + ProxyEnvironment.HEADER_TIMEOUT + ". Default " + ProxyConfig.Defaults.HEADER_TIMEOUT + ".")
    Duration headerTimeout;

    @Option(names = "--max-opening-per-source", paramLabel = "N", defaultValue = "${env:" + ProxyEnvironment.MAX_OPENING_PER_SOURCE + "}",
            description = "Connections one source may have still opening (before its first request head, handshake or header) on each listener; "
                    + "a newer one closes the oldest. " + ProxyEnvironment.MAX_OPENING_PER_SOURCE + ". Default " + ProxyConfig.Defaults.MAX_OPENING_PER_SOURCE + ".")
    Integer maxOpeningPerSource;

    @Option(names = "--connect-timeout", defaultValue = "${env:" + ProxyEnvironment.CONNECT_TIMEOUT + "}",
            description = "Connection timeout to endpoints and the app. " + ProxyEnvironment.CONNECT_TIMEOUT + ". Default " + ProxyConfig.Defaults.CONNECT_TIMEOUT + ".")
    Duration connectTimeout;

    @Option(names = "--request-timeout", defaultValue = "${env:" + ProxyEnvironment.REQUEST_TIMEOUT + "}",
            description = "How long an HTTP request may wait for its response before the proxy answers 504. " + ProxyEnvironment.REQUEST_TIMEOUT + ". Default "
                    + ProxyConfig.Defaults.REQUEST_TIMEOUT + ".")
    Duration requestTimeout;

    @Option(names = "--shutdown-grace", defaultValue = "${env:" + ProxyEnvironment.SHUTDOWN_GRACE + "}",
            description = "How long open connections may finish after SIGTERM. " + ProxyEnvironment.SHUTDOWN_GRACE + ". Default " + ProxyConfig.Defaults.SHUTDOWN_GRACE + ".")
    Duration shutdownGrace;

    @Option(names = "--shutdown-token-file", paramLabel = "FILE", defaultValue = "${env:" + ProxyEnvironment.SHUTDOWN_TOKEN_FILE + "}",
            description = "Enable POST /shutdown on the admin listener, with this bearer token (file must be 0600). Off by default. " + ProxyEnvironment.SHUTDOWN_TOKEN_FILE + ".")
    Path shutdownTokenFile;

    @Option(names = "--connection-log", paramLabel = "FILE|-", defaultValue = "${env:" + ProxyEnvironment.CONNECTION_LOG + "}",
            description = "Append connection-log JSON lines to FILE; - or unset: standard output. " + ProxyEnvironment.CONNECTION_LOG + ".")
    String connectionLog;

    @Option(names = "--tap", paramLabel = "HOST:PORT|off", defaultValue = "${env:" + ProxyEnvironment.TAP + "}",
            description = "Tap listener: live request events over mTLS, for the viz identity only. " + ProxyEnvironment.TAP + ". Default " + ProxyConfig.Defaults.TAP + ".")
    String tap;

    @Option(names = "--default-inbound-policy", paramLabel = "POLICY", defaultValue = "${env:" + ProxyEnvironment.DEFAULT_INBOUND_POLICY + "}",
            converter = InboundFallbackConverter.class,
            description = "While a port's policy is unknown (no --workload, or no answer yet): all-unauthenticated (--require-identity-ports still apply), "
                    + "all-authenticated or deny; cluster-authenticated acts as all-authenticated and audit as all-unauthenticated until the policy comes. "
                    + ProxyEnvironment.DEFAULT_INBOUND_POLICY + ". Default " + ProxyConfig.Defaults.DEFAULT_INBOUND_POLICY + ".")
    DefaultInboundPolicy defaultInboundPolicy;

    /** Parses --default-inbound-policy, naming the accepted values when it cannot. */
    static final class InboundFallbackConverter implements picocli.CommandLine.ITypeConverter<DefaultInboundPolicy> {
        @Override
        public DefaultInboundPolicy convert(String value) {
            try {
                return DefaultInboundPolicy.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    @Option(names = "--tls-key-exchange", paramLabel = "hybrid|classical", defaultValue = "${env:" + ProxyEnvironment.TLS_KEY_EXCHANGE + "}",
            description = "Mesh TLS key exchange: hybrid prefers the post-quantum X25519MLKEM768 (then X25519, P-256); classical offers "
                    + "X25519 and P-256 only. " + ProxyEnvironment.TLS_KEY_EXCHANGE + ". Default " + ProxyConfig.Defaults.TLS_KEY_EXCHANGE + ".")
    String tlsKeyExchange;

    @Option(names = "--workload", paramLabel = "POD", defaultValue = "${env:" + ProxyEnvironment.WORKLOAD + "}",
            description = "This pod's name (its namespace is the identity's): the proxy then watches its inbound and egress policy. " + ProxyEnvironment.WORKLOAD + ".")
    String workload;

    @Option(names = "--debug", defaultValue = "${env:" + ProxyEnvironment.DEBUG + ":-false}",
            description = "Serve /debug/* on the admin listener and turn Netty's buffer-leak detection on (sampled). " + ProxyEnvironment.DEBUG + ". Off by default.")
    boolean debug;

    @Override
    public Integer call() throws Exception {
        ResourceLeakDetector.setLevel(leakDetection(debug, ResourceLeakDetector.getLevel()));
        Proxy proxy = Proxy.start(config(), Clock.systemUTC());
        Runtime.getRuntime().addShutdownHook(new Thread(proxy::shutdown, "trellis-proxy-shutdown"));
        proxy.awaitTermination();
        return 0;
    }

    /**
     * Netty's buffer-leak detection for this process: the launcher and the proxy image start the
     * sidecar with it off ({@code -Dio.netty.leakDetection.level=disabled}: it samples buffers and
     * records stack traces on the request path); {@code --debug} turns it back on, sampled, unless
     * the JVM was started with a level of its own (tests run with Netty's default).
     */
    static ResourceLeakDetector.Level leakDetection(boolean debug, ResourceLeakDetector.Level started) {
        return debug && started == ResourceLeakDetector.Level.DISABLED ? ResourceLeakDetector.Level.SIMPLE : started;
    }

    /** The proxy's settings from the flags and {@code TRELLIS_PROXY_*}, each checked by its rule. */
    ProxyConfig config() throws java.io.IOException {
        WorkloadIdentity self = WorkloadIdentity.parseSpiffeId(required(identity, "--identity", ProxyEnvironment.IDENTITY));
        ProxyConfig.Builder config = ProxyConfig.builder(self)
                .identityService(required(identityAddr, "--identity-addr", ProxyEnvironment.IDENTITY_ADDR))
                .tokenFile(required(tokenFile, "--token-file", ProxyEnvironment.TOKEN_FILE))
                .destinationService(required(destinationAddr, "--destination-addr", ProxyEnvironment.DESTINATION_ADDR))
                .debug(debug);
        if ((trustAnchor == null) == (trustAnchorsPem == null || trustAnchorsPem.isBlank())) {
            throw new IllegalArgumentException("proxy: give the trust anchors once: --trust-anchor FILE (" + ProxyEnvironment.TRUST_ANCHOR + ") "
                    + "or --trust-anchors-pem PEM (" + ProxyEnvironment.TRUST_ANCHORS_PEM + ")");
        }
        if (trustAnchor != null) {
            config.trustAnchorFile(trustAnchor);
        } else {
            config.trustAnchors(TrustAnchors.parse(trustAnchorsPem, ProxyEnvironment.TRUST_ANCHORS_PEM));
        }
        // Only what was given overrides the builder's defaults (ProxyConfig.Defaults).
        if (vizName != null && !vizName.isBlank()) {
            config.vizName(WorkloadIdentity.parseSpiffeId(vizName.strip()));
        }
        if (identityName != null) {
            config.identityServiceName(WorkloadIdentity.parseSpiffeId(identityName));
        }
        if (destinationName != null) {
            config.destinationServiceName(WorkloadIdentity.parseSpiffeId(destinationName));
        }
        if (inbound != null) {
            config.inbound(inbound);
        }
        if (outbound != null) {
            config.outbound(listenerOrOff(outbound));
        }
        if (probe != null) {
            config.probes(java.util.Optional.of(probe));
        }
        if (admin != null) {
            config.admin(admin);
        }
        if (tap != null) {
            config.tap(listenerOrOff(tap));
        }
        if (forwards != null) {
            config.forwards(forwards.stream().filter(f -> !f.isBlank()).map(Forward::parse).toList());
        }
        if (appHost != null && !appHost.isBlank()) {
            config.appHost(Optional.of(appHost.strip()));
        }
        if (inboundPorts != null) {
            config.declaredPorts(Set.copyOf(inboundPorts));
        }
        if (requireIdentityPorts != null) {
            config.requireIdentityPorts(Set.copyOf(requireIdentityPorts));
        }
        if (opaquePorts != null) {
            config.opaquePorts(Set.copyOf(opaquePorts));
        }
        if (defaultInboundPolicy != null) {
            config.defaultInboundPolicy(defaultInboundPolicy);
        }
        if (detectTimeout != null) {
            config.detectTimeout(detectTimeout);
        }
        if (headerTimeout != null) {
            config.headerTimeout(headerTimeout);
        }
        if (tlsKeyExchange != null) {
            config.keyExchange(dev.trellis.tls.context.KeyExchange.parse(tlsKeyExchange));
        }
        if (maxOpeningPerSource != null) {
            config.maxOpeningPerSource(maxOpeningPerSource);
        }
        if (connectTimeout != null) {
            config.connectTimeout(connectTimeout);
        }
        if (requestTimeout != null) {
            config.requestTimeout(requestTimeout);
        }
        if (shutdownGrace != null) {
            config.shutdownGrace(shutdownGrace);
        }
        config.shutdownTokenFile(Optional.ofNullable(shutdownTokenFile))
                .connectionLogFile(connectionLog == null || connectionLog.isBlank() || connectionLog.strip().equals("-")
                        ? Optional.empty() : Optional.of(Path.of(connectionLog.strip())))
                .workload(workload == null || workload.isBlank() ? Optional.empty() : Optional.of(workload.strip()));
        return config.build();
    }

    private static Optional<HostPort> listenerOrOff(String value) {
        return value.strip().equalsIgnoreCase("off") ? Optional.empty() : Optional.of(HostPort.parse(value.strip()));
    }

    private static <T> T required(T value, String flag, String variable) {
        if (value == null) {
            throw new IllegalArgumentException("proxy: " + flag + " (or " + variable + ") is required");
        }
        return value;
    }
}
