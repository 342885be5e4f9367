package dev.trellis.cli;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.Proxy;
import dev.trellis.proxy.ProxyConfig;
import dev.trellis.proxy.outbound.ForwardListener;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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

    @Option(names = "--identity", paramLabel = "SPIFFE_ID", defaultValue = "${env:TRELLIS_PROXY_IDENTITY}",
            description = "This workload's identity. TRELLIS_PROXY_IDENTITY. Required.")
    String identity;

    @Option(names = "--trust-anchor", paramLabel = "FILE", defaultValue = "${env:TRELLIS_PROXY_TRUST_ANCHOR}",
            description = "PEM trust anchors of the mesh. TRELLIS_PROXY_TRUST_ANCHOR. Required.")
    Path trustAnchor;

    @Option(names = "--identity-addr", paramLabel = "HOST:PORT", defaultValue = "${env:TRELLIS_PROXY_IDENTITY_ADDR}",
            description = "The identity service. TRELLIS_PROXY_IDENTITY_ADDR. Required.")
    HostPort identityAddr;

    @Option(names = "--identity-name", paramLabel = "SPIFFE_ID", defaultValue = "${env:TRELLIS_PROXY_IDENTITY_NAME}",
            description = "Identity the identity service presents (default spiffe://<td>/ns/trellis/sa/trellis-identity). TRELLIS_PROXY_IDENTITY_NAME.")
    String identityName;

    @Option(names = "--token-file", paramLabel = "FILE", defaultValue = "${env:TRELLIS_PROXY_TOKEN_FILE}",
            description = "Token proving the identity (read anew at each renewal). TRELLIS_PROXY_TOKEN_FILE. Required.")
    Path tokenFile;

    @Option(names = "--destination-addr", paramLabel = "HOST:PORT", defaultValue = "${env:TRELLIS_PROXY_DESTINATION_ADDR}",
            description = "The destination service. TRELLIS_PROXY_DESTINATION_ADDR. Required.")
    HostPort destinationAddr;

    @Option(names = "--destination-name", paramLabel = "SPIFFE_ID", defaultValue = "${env:TRELLIS_PROXY_DESTINATION_NAME}",
            description = "Identity the destination service presents (default spiffe://<td>/ns/trellis/sa/trellis-destination). TRELLIS_PROXY_DESTINATION_NAME.")
    String destinationName;

    @Option(names = "--inbound", paramLabel = "HOST:PORT", defaultValue = "${env:TRELLIS_PROXY_INBOUND:-0.0.0.0:4143}",
            description = "Inbound listener (mesh mTLS). TRELLIS_PROXY_INBOUND. Default ${DEFAULT-VALUE}.")
    HostPort inbound;

    @Option(names = "--outbound", paramLabel = "HOST:PORT|off", defaultValue = "${env:TRELLIS_PROXY_OUTBOUND:-127.0.0.1:4140}",
            description = "Outbound listener for connections iptables redirects (transparent mode); 'off' for none. TRELLIS_PROXY_OUTBOUND. Default ${DEFAULT-VALUE}.")
    String outbound;

    @Option(names = "--require-identity-ports", paramLabel = "PORT", split = ",", defaultValue = "${env:TRELLIS_PROXY_REQUIRE_IDENTITY_PORTS}",
            description = "Inbound ports where connections without mesh TLS are refused even when redirected. TRELLIS_PROXY_REQUIRE_IDENTITY_PORTS.")
    List<Integer> requireIdentityPorts;

    @Option(names = "--opaque-ports", paramLabel = "PORT", split = ",",
            defaultValue = "${env:TRELLIS_PROXY_OPAQUE_PORTS:-25,587,3306,4444,5432,6379,9300,11211}",
            description = "Ports whose redirected inbound connections skip protocol detection (server-speaks-first protocols). TRELLIS_PROXY_OPAQUE_PORTS. Default ${DEFAULT-VALUE}.")
    List<Integer> opaquePorts;

    @Option(names = "--admin", paramLabel = "HOST:PORT", defaultValue = "${env:TRELLIS_PROXY_ADMIN:-127.0.0.1:4191}",
            description = "Admin listener: /live /ready /metrics. TRELLIS_PROXY_ADMIN. Default ${DEFAULT-VALUE}.")
    HostPort admin;

    @Option(names = "--app-host", defaultValue = "${env:TRELLIS_PROXY_APP_HOST:-127.0.0.1}",
            description = "Where the app listens, for inbound traffic. TRELLIS_PROXY_APP_HOST. Default ${DEFAULT-VALUE}.")
    String appHost;

    @Option(names = "--forward", paramLabel = "PORT=HOST:PORT", split = ",", defaultValue = "${env:TRELLIS_PROXY_FORWARDS}",
            description = "Open a local port for an opaque destination, e.g. 6379=redis.cache.svc.cluster.local:6379 (repeat, or comma-separate). TRELLIS_PROXY_FORWARDS.")
    List<String> forwards;

    @Option(names = "--detect-timeout", defaultValue = "${env:TRELLIS_PROXY_DETECT_TIMEOUT:-10s}",
            description = "How long protocol detection waits for a client's first bytes. TRELLIS_PROXY_DETECT_TIMEOUT. Default ${DEFAULT-VALUE}.")
    Duration detectTimeout;

    @Option(names = "--connect-timeout", defaultValue = "${env:TRELLIS_PROXY_CONNECT_TIMEOUT:-5s}",
            description = "Connection timeout to endpoints and the app. TRELLIS_PROXY_CONNECT_TIMEOUT. Default ${DEFAULT-VALUE}.")
    Duration connectTimeout;

    @Option(names = "--request-timeout", defaultValue = "${env:TRELLIS_PROXY_REQUEST_TIMEOUT:-10s}",
            description = "How long an HTTP request may wait for its response before the proxy answers 504. TRELLIS_PROXY_REQUEST_TIMEOUT. Default ${DEFAULT-VALUE}.")
    Duration requestTimeout;

    @Option(names = "--shutdown-grace", defaultValue = "${env:TRELLIS_PROXY_SHUTDOWN_GRACE:-30s}",
            description = "How long open connections may finish after SIGTERM. TRELLIS_PROXY_SHUTDOWN_GRACE. Default ${DEFAULT-VALUE}.")
    Duration shutdownGrace;

    @Option(names = "--shutdown-token-file", paramLabel = "FILE", defaultValue = "${env:TRELLIS_PROXY_SHUTDOWN_TOKEN_FILE}",
            description = "Enable POST /shutdown on the admin listener, with this bearer token (file must be 0600). Off by default. TRELLIS_PROXY_SHUTDOWN_TOKEN_FILE.")
    Path shutdownTokenFile;

    @Option(names = "--connection-log", paramLabel = "FILE", defaultValue = "${env:TRELLIS_PROXY_CONNECTION_LOG}",
            description = "Append outbound connection JSON lines here (default: standard output). TRELLIS_PROXY_CONNECTION_LOG.")
    Path connectionLog;

    @Option(names = "--tap", paramLabel = "HOST:PORT|off", defaultValue = "${env:TRELLIS_PROXY_TAP:-0.0.0.0:4190}",
            description = "Tap listener: live request events over mTLS, for the viz identity only (default 0.0.0.0:4190). TRELLIS_PROXY_TAP.")
    String tap;

    @Option(names = "--default-inbound-policy", paramLabel = "POLICY", defaultValue = "${env:TRELLIS_PROXY_DEFAULT_INBOUND_POLICY:-all-unauthenticated}",
            converter = InboundFallbackConverter.class,
            description = "While a port's policy is unknown (no --workload, or no answer yet): all-unauthenticated (default; "
                    + "--require-identity-ports still apply), all-authenticated or deny. TRELLIS_PROXY_DEFAULT_INBOUND_POLICY.")
    dev.trellis.proxy.policy.InboundPolicy.Fallback defaultInboundPolicy;

    /** Parses --default-inbound-policy, naming the accepted values when it cannot. */
    static final class InboundFallbackConverter implements picocli.CommandLine.ITypeConverter<dev.trellis.proxy.policy.InboundPolicy.Fallback> {
        @Override
        public dev.trellis.proxy.policy.InboundPolicy.Fallback convert(String value) {
            try {
                return dev.trellis.proxy.policy.InboundPolicy.Fallback.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    @Option(names = "--workload", paramLabel = "POD", defaultValue = "${env:TRELLIS_PROXY_WORKLOAD}",
            description = "This pod's name (its namespace is the identity's): the proxy then watches its inbound and egress policy. TRELLIS_PROXY_WORKLOAD.")
    String workload;

    @Option(names = "--debug", defaultValue = "${env:TRELLIS_PROXY_DEBUG:-false}",
            description = "Serve /debug/* on the admin listener. TRELLIS_PROXY_DEBUG. Off by default.")
    boolean debug;

    @Override
    public Integer call() throws Exception {
        WorkloadIdentity self = WorkloadIdentity.parseSpiffeId(required(identity, "--identity", "TRELLIS_PROXY_IDENTITY"));
        String td = self.trustDomain();
        List<ForwardListener.Forward> forwardList = new ArrayList<>();
        if (forwards != null) {
            for (String forward : forwards) {
                if (!forward.isBlank()) {
                    forwardList.add(ForwardListener.Forward.parse(forward));
                }
            }
        }
        ProxyConfig config = new ProxyConfig(self,
                required(trustAnchor, "--trust-anchor", "TRELLIS_PROXY_TRUST_ANCHOR"),
                required(identityAddr, "--identity-addr", "TRELLIS_PROXY_IDENTITY_ADDR"),
                identityName != null ? WorkloadIdentity.parseSpiffeId(identityName) : new WorkloadIdentity(td, "trellis", "trellis-identity"),
                required(tokenFile, "--token-file", "TRELLIS_PROXY_TOKEN_FILE"),
                required(destinationAddr, "--destination-addr", "TRELLIS_PROXY_DESTINATION_ADDR"),
                destinationName != null ? WorkloadIdentity.parseSpiffeId(destinationName) : new WorkloadIdentity(td, "trellis", "trellis-destination"),
                inbound, outbound.equalsIgnoreCase("off") ? Optional.empty() : Optional.of(HostPort.parse(outbound)),
                admin, appHost, forwardList, requireIdentityPorts == null ? java.util.Set.of() : java.util.Set.copyOf(requireIdentityPorts),
                java.util.Set.copyOf(opaquePorts), detectTimeout, connectTimeout, requestTimeout, shutdownGrace,
                Optional.ofNullable(shutdownTokenFile), Optional.ofNullable(connectionLog), debug,
                workload == null || workload.isBlank() ? Optional.empty() : Optional.of(workload.strip()),
                tap.equalsIgnoreCase("off") ? Optional.empty() : Optional.of(HostPort.parse(tap)), defaultInboundPolicy);
        Proxy proxy = Proxy.start(config, Clock.systemUTC());
        Runtime.getRuntime().addShutdownHook(new Thread(proxy::shutdown, "trellis-proxy-shutdown"));
        proxy.awaitTermination();
        return 0;
    }

    private static <T> T required(T value, String flag, String variable) {
        if (value == null) {
            throw new IllegalArgumentException("proxy: " + flag + " (or " + variable + ") is required");
        }
        return value;
    }
}
