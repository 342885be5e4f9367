package dev.trellis.destination;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.destination.translate.DefaultInboundPolicy;
import dev.trellis.ratelimit.RateLimit;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * Settings of the destination service. Defaults: gRPC on 0.0.0.0:8086, admin on
 * 127.0.0.1:9996, cluster-wide visibility (as Linkerd), default inbound policy
 * all-unauthenticated, 100 streams per caller identity, 1,000 per peer address, 20 new calls
 * per second per identity (burst 200), one update per stream per 100 ms, subscribers cut after
 * 30 s unable to read; only callers of its own trust domain are served.
 *
 * @param acceptedTrustDomains callers whose identity is in one of these trust domains are
 *                             served; empty means the own only. Compared whole (finding 10).
 */
public record DestinationServerConfig(
        String trustDomain,
        String clusterDomain,
        HostPort listen,
        HostPort admin,
        boolean strictVisibility,
        DefaultInboundPolicy defaultInboundPolicy,
        List<String> clusterNetworks,
        int streamsPerIdentity,
        int streamsPerPeer,
        RateLimit callRate,
        Duration updateWindow,
        Duration slowSubscriberTimeout,
        boolean debug,
        Set<String> acceptedTrustDomains) {

    public DestinationServerConfig {
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(clusterDomain, "clusterDomain");
        requireNonNull(listen, "listen");
        requireNonNull(admin, "admin");
        requireNonNull(defaultInboundPolicy, "defaultInboundPolicy");
        clusterNetworks = List.copyOf(clusterNetworks);
        requireNonNull(callRate, "callRate");
        acceptedTrustDomains = acceptedTrustDomains.isEmpty() ? Set.of(trustDomain) : Set.copyOf(acceptedTrustDomains);
        if (!acceptedTrustDomains.contains(trustDomain)) {
            throw new IllegalArgumentException("destination: the accepted trust domains " + acceptedTrustDomains + " must include the own, " + trustDomain);
        }
        if (streamsPerIdentity < 1 || streamsPerPeer < 1) {
            throw new IllegalArgumentException("destination: stream limits must be at least 1");
        }
        if (updateWindow.isNegative() || updateWindow.isZero() || updateWindow.compareTo(Duration.ofSeconds(10)) > 0) {
            throw new IllegalArgumentException("destination: update window " + updateWindow + " must be above 0 and at most 10s");
        }
    }

    public static DestinationServerConfig defaults(String trustDomain) {
        return new DestinationServerConfig(trustDomain, "cluster.local", new HostPort("0.0.0.0", 8086), new HostPort("127.0.0.1", 9996),
                false, DefaultInboundPolicy.ALL_UNAUTHENTICATED, List.of("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8"),
                100, 1000, RateLimit.parse("20/s,200"), Duration.ofMillis(100), Duration.ofSeconds(30), false, Set.of(trustDomain));
    }

    public WorkloadIdentity identity() {
        return ControlPlaneComponent.DESTINATION.identity(trustDomain);
    }

    public DestinationServerConfig withListen(HostPort listen, HostPort admin) {
        return new DestinationServerConfig(trustDomain, clusterDomain, listen, admin, strictVisibility, defaultInboundPolicy, clusterNetworks,
                streamsPerIdentity, streamsPerPeer, callRate, updateWindow, slowSubscriberTimeout, debug, acceptedTrustDomains);
    }

    public DestinationServerConfig withStrictVisibility(boolean strict) {
        return new DestinationServerConfig(trustDomain, clusterDomain, listen, admin, strict, defaultInboundPolicy, clusterNetworks,
                streamsPerIdentity, streamsPerPeer, callRate, updateWindow, slowSubscriberTimeout, debug, acceptedTrustDomains);
    }

    public DestinationServerConfig withLimits(int perIdentity, int perPeer, RateLimit rate, Duration window) {
        return new DestinationServerConfig(trustDomain, clusterDomain, listen, admin, strictVisibility, defaultInboundPolicy, clusterNetworks,
                perIdentity, perPeer, rate, window, slowSubscriberTimeout, debug, acceptedTrustDomains);
    }
}
