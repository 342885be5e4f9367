package dev.trellis.destination;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.core.settings.ClusterDomain;
import dev.trellis.core.settings.DefaultInboundPolicy;
import dev.trellis.ratelimit.RateLimit;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Settings of the destination service; {@link #builder} holds every default, in one place:
 * namespace {@code trellis}, gRPC on 0.0.0.0:8086, admin on 127.0.0.1:9996, no probe
 * listener, cluster-wide visibility (as Linkerd), default inbound policy
 * all-unauthenticated, 100 streams per caller identity, 1,000 per peer address, 20 new calls
 * per second per identity (burst 200), one update per stream per 100 ms, subscribers cut after
 * 30 s unable to read; only callers of its own trust domain are served.
 *
 * @param namespace            where the control plane runs: the service's own identity is
 *                             {@code trellis-destination} there
 * @param probes               a listener for the kubelet's {@code /live} and {@code /ready}
 *                             only (the admin listener stays on loopback)
 * @param acceptedTrustDomains callers whose identity is in one of these trust domains are
 *                             served; empty means the own only. Compared whole (finding 10).
 */
public record DestinationServerConfig(
        String trustDomain,
        String clusterDomain,
        String namespace,
        HostPort listen,
        HostPort admin,
        Optional<HostPort> probes,
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
        try {
            ClusterDomain.check(clusterDomain);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("destination: " + e.getMessage(), e);
        }
        requireNonNull(namespace, "namespace");
        requireNonNull(listen, "listen");
        requireNonNull(admin, "admin");
        requireNonNull(probes, "probes");
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

    /** Every default, for the service of {@code trustDomain}. */
    public static Builder builder(String trustDomain) {
        return new Builder(trustDomain);
    }

    public static DestinationServerConfig defaults(String trustDomain) {
        return builder(trustDomain).build();
    }

    public Builder toBuilder() {
        Builder b = new Builder(trustDomain);
        b.clusterDomain = clusterDomain;
        b.namespace = namespace;
        b.listen = listen;
        b.admin = admin;
        b.probes = probes;
        b.strictVisibility = strictVisibility;
        b.defaultInboundPolicy = defaultInboundPolicy;
        b.clusterNetworks = clusterNetworks;
        b.streamsPerIdentity = streamsPerIdentity;
        b.streamsPerPeer = streamsPerPeer;
        b.callRate = callRate;
        b.updateWindow = updateWindow;
        b.slowSubscriberTimeout = slowSubscriberTimeout;
        b.debug = debug;
        b.acceptedTrustDomains = acceptedTrustDomains;
        return b;
    }

    /** The service's own identity. */
    public WorkloadIdentity identity() {
        return ControlPlaneComponent.DESTINATION.identity(trustDomain, namespace);
    }

    /** Builds a {@link DestinationServerConfig}; starts from every default. */
    public static final class Builder {
        /** Linkerd's destination port. */
        public static final HostPort DEFAULT_LISTEN = new HostPort("0.0.0.0", 8086);
        public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", 9996);
        public static final List<String> DEFAULT_CLUSTER_NETWORKS = List.of("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8");

        private final String trustDomain;
        private String clusterDomain = "cluster.local";
        private String namespace = ControlPlaneComponent.DEFAULT_NAMESPACE;
        private HostPort listen = DEFAULT_LISTEN;
        private HostPort admin = DEFAULT_ADMIN;
        private Optional<HostPort> probes = Optional.empty();
        private boolean strictVisibility;
        private DefaultInboundPolicy defaultInboundPolicy = DefaultInboundPolicy.ALL_UNAUTHENTICATED;
        private List<String> clusterNetworks = DEFAULT_CLUSTER_NETWORKS;
        private int streamsPerIdentity = 100;
        private int streamsPerPeer = 1000;
        private RateLimit callRate = RateLimit.parse("20/s,200");
        private Duration updateWindow = Duration.ofMillis(100);
        private Duration slowSubscriberTimeout = Duration.ofSeconds(30);
        private boolean debug;
        private Set<String> acceptedTrustDomains = Set.of();

        private Builder(String trustDomain) {
            this.trustDomain = requireNonNull(trustDomain, "trustDomain");
        }

        public Builder clusterDomain(String clusterDomain) {
            this.clusterDomain = clusterDomain;
            return this;
        }

        public Builder namespace(String namespace) {
            this.namespace = namespace;
            return this;
        }

        public Builder listen(HostPort listen) {
            this.listen = listen;
            return this;
        }

        public Builder admin(HostPort admin) {
            this.admin = admin;
            return this;
        }

        public Builder probes(Optional<HostPort> probes) {
            this.probes = probes;
            return this;
        }

        public Builder strictVisibility(boolean strictVisibility) {
            this.strictVisibility = strictVisibility;
            return this;
        }

        public Builder defaultInboundPolicy(DefaultInboundPolicy defaultInboundPolicy) {
            this.defaultInboundPolicy = defaultInboundPolicy;
            return this;
        }

        public Builder clusterNetworks(List<String> clusterNetworks) {
            this.clusterNetworks = clusterNetworks;
            return this;
        }

        /** Open streams per caller identity and per peer address, new calls per identity, and the update window. */
        public Builder limits(int perIdentity, int perPeer, RateLimit callRate, Duration updateWindow) {
            this.streamsPerIdentity = perIdentity;
            this.streamsPerPeer = perPeer;
            this.callRate = callRate;
            this.updateWindow = updateWindow;
            return this;
        }

        public Builder debug(boolean debug) {
            this.debug = debug;
            return this;
        }

        public Builder acceptedTrustDomains(Set<String> acceptedTrustDomains) {
            this.acceptedTrustDomains = acceptedTrustDomains;
            return this;
        }

        public DestinationServerConfig build() {
            return new DestinationServerConfig(trustDomain, clusterDomain, namespace, listen, admin, probes, strictVisibility, defaultInboundPolicy,
                    clusterNetworks, streamsPerIdentity, streamsPerPeer, callRate, updateWindow, slowSubscriberTimeout, debug, acceptedTrustDomains);
        }
    }
}
