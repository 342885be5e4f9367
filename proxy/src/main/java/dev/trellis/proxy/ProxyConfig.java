package dev.trellis.proxy;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.outbound.ForwardListener;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Everything a proxy needs to start. The CLI fills it from {@code TRELLIS_PROXY_*}
 * environment variables and equal flags; tests build it directly.
 *
 * @param identity              this workload's identity
 * @param trustAnchorFile       the mesh roots
 * @param identityService       the identity service's address
 * @param identityServiceName   the identity the identity service must present
 * @param tokenFile             proof of {@code identity} for the identity service
 * @param destinationService    the destination service's address
 * @param destinationServiceName the identity the destination service must present
 * @param inbound               inbound listener (mesh mTLS; in transparent mode also redirected plaintext)
 * @param outbound              transparent outbound listener; empty to run without one (explicit mode only)
 * @param admin                 admin listener (loopback)
 * @param appHost               where the local app listens, for inbound traffic
 * @param forwards              local ports for opaque destinations (explicit mode)
 * @param requireIdentityPorts  inbound ports on which connections without mesh TLS are refused
 *                              even when they were redirected with an original destination
 * @param opaquePorts           ports whose redirected inbound connections skip protocol detection
 * @param detectTimeout         how long protocol detection waits for a client's first bytes
 * @param connectTimeout        connection timeout to endpoints and the app
 * @param requestTimeout        how long an HTTP request may wait for its response (504 after)
 * @param shutdownGrace         how long open connections may finish after SIGTERM
 * @param shutdownTokenFile     enables {@code /shutdown} with the bearer token in this file
 * @param connectionLogFile     where outbound connection lines go; empty: standard output
 * @param debug                 serve {@code /debug/*} on the admin listener
 * @param workload              this pod's name (namespace from the identity): with it the proxy
 *                              watches its inbound and egress policy; empty: no policy watches
 * @param tap                   the tap listener (mTLS, viz identity only); empty: none
 * @param defaultInboundPolicy  what applies to an inbound port while its policy is unknown
 */
public record ProxyConfig(
        WorkloadIdentity identity,
        Path trustAnchorFile,
        HostPort identityService,
        WorkloadIdentity identityServiceName,
        Path tokenFile,
        HostPort destinationService,
        WorkloadIdentity destinationServiceName,
        HostPort inbound,
        Optional<HostPort> outbound,
        HostPort admin,
        String appHost,
        List<ForwardListener.Forward> forwards,
        Set<Integer> requireIdentityPorts,
        Set<Integer> opaquePorts,
        Duration detectTimeout,
        Duration connectTimeout,
        Duration requestTimeout,
        Duration shutdownGrace,
        Optional<Path> shutdownTokenFile,
        Optional<Path> connectionLogFile,
        boolean debug,
        Optional<String> workload,
        Optional<HostPort> tap,
        dev.trellis.proxy.policy.InboundPolicy.Fallback defaultInboundPolicy) {

    public static final HostPort DEFAULT_INBOUND = new HostPort("0.0.0.0", 4143);
    public static final HostPort DEFAULT_OUTBOUND = new HostPort("127.0.0.1", 4140);
    public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", 4191);
    public static final int DEFAULT_TAP_PORT = 4190;
    /** Server-speaks-first and otherwise undetectable protocols, as Linkerd's default list. */
    public static final Set<Integer> DEFAULT_OPAQUE_PORTS = Set.of(25, 587, 3306, 4444, 5432, 6379, 9300, 11211);

    public ProxyConfig {
        requireNonNull(identity, "identity");
        requireNonNull(trustAnchorFile, "trustAnchorFile");
        requireNonNull(identityService, "identityService");
        requireNonNull(identityServiceName, "identityServiceName");
        requireNonNull(tokenFile, "tokenFile");
        requireNonNull(destinationService, "destinationService");
        requireNonNull(destinationServiceName, "destinationServiceName");
        requireNonNull(inbound, "inbound");
        requireNonNull(outbound, "outbound");
        requireNonNull(admin, "admin");
        requireIdentityPorts = Set.copyOf(requireIdentityPorts);
        opaquePorts = Set.copyOf(opaquePorts);
        requireNonNull(appHost, "appHost");
        forwards = List.copyOf(forwards);
        requireNonNull(shutdownTokenFile, "shutdownTokenFile");
        requireNonNull(connectionLogFile, "connectionLogFile");
        requireNonNull(workload, "workload");
        requireNonNull(tap, "tap");
        requireNonNull(defaultInboundPolicy, "defaultInboundPolicy");
        if (workload.isPresent() && !workload.get().matches("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")) {
            throw new IllegalArgumentException("proxy: workload '" + workload.get() + "' is not a Kubernetes object name");
        }
        positive("detect timeout", detectTimeout);
        positive("connect timeout", connectTimeout);
        positive("request timeout", requestTimeout);
        if (shutdownGrace.isNegative()) {
            throw new IllegalArgumentException("proxy: shutdown grace " + shutdownGrace + " is negative");
        }
    }

    /** The identity allowed to scrape this proxy's metrics over the inbound mTLS listener. */
    public WorkloadIdentity vizIdentity() {
        return new WorkloadIdentity(identity.trustDomain(), "trellis", "trellis-viz");
    }

    /** Ports of this proxy that inbound traffic must never be forwarded to. */
    Set<Integer> ownPorts() {
        return java.util.stream.IntStream.of(inbound.port(), admin.port(), outbound.map(HostPort::port).orElse(0), tap.map(HostPort::port).orElse(0),
                        DEFAULT_OUTBOUND.port(), DEFAULT_TAP_PORT, DEFAULT_ADMIN.port(), DEFAULT_INBOUND.port())
                .filter(port -> port != 0).boxed().collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    private static void positive(String what, Duration value) {
        if (value == null || value.isZero() || value.isNegative()) {
            throw new IllegalArgumentException("proxy: " + what + " must be positive, got " + value);
        }
    }
}
