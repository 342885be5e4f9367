package dev.trellis.cli;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.destination.DestinationServer;
import dev.trellis.destination.DestinationServerConfig;
import dev.trellis.core.settings.DefaultInboundPolicy;
import dev.trellis.ratelimit.RateLimit;
import dev.trellis.tls.client.IdentityClient;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.pki.TrustAnchors;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trellis destination}: discovery, profiles and policy for proxies, until SIGTERM. */
@Command(mixinStandardHelpOptions = true, name = "destination", description = {
        "Run the destination service: endpoints, route profiles, inbound and egress policy, streamed to proxies over mTLS.",
        "Cluster state comes from exactly one of --kubernetes (informers) or --local DIR (a directory of manifests).",
        "Its own certificate (identity trellis/trellis-destination) comes from the identity service, like a proxy's."})
final class DestinationCommand implements Callable<Integer> {

    @Option(names = "--trust-domain", defaultValue = WorkloadIdentity.DEFAULT_TRUST_DOMAIN, description = "Trust domain (default: ${DEFAULT-VALUE}).")
    String trustDomain;

    @Option(names = "--cluster-domain", defaultValue = "cluster.local", description = "DNS suffix of Services (default: ${DEFAULT-VALUE}).")
    String clusterDomain;

    @Option(names = "--trust-anchor", required = true, paramLabel = "FILE", description = "PEM trust anchor(s).")
    Path trustAnchor;

    @Option(names = "--identity-addr", required = true, paramLabel = "HOST:PORT", description = "The identity service.")
    HostPort identityAddress;

    @Option(names = "--identity-name", paramLabel = "SPIFFE_ID", description = "The identity service's identity (default: spiffe://<trust-domain>/ns/<namespace>/sa/trellis-identity).")
    String identityName;

    @Option(names = "--namespace", defaultValue = ControlPlaneComponent.DEFAULT_NAMESPACE,
            description = "Namespace the control plane runs in: this service is trellis-destination there (default: ${DEFAULT-VALUE}).")
    String namespace;

    @Option(names = "--token-file", required = true, paramLabel = "FILE", description = "Token proving this service's identity to the identity service.")
    Path tokenFile;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterSourceOptions source;

    @Option(names = "--listen", defaultValue = "0.0.0.0:8086", paramLabel = "HOST:PORT", description = "gRPC listener (default: ${DEFAULT-VALUE}).")
    HostPort listen;

    @Option(names = "--admin", defaultValue = "127.0.0.1:9996", paramLabel = "HOST:PORT", description = "Admin listener: /live /ready /metrics (default: ${DEFAULT-VALUE}).")
    HostPort admin;

    @Option(names = "--probe", paramLabel = "HOST:PORT", description = "Also answer /live and /ready (nothing else) here, for the kubelet. Default: no such listener.")
    HostPort probe;

    @Option(names = "--strict-visibility", description = "Callers resolve only their own namespace and what others export to it (annotation trellis.dev/visible-to). Default: cluster-wide.")
    boolean strictVisibility;

    @Option(names = "--default-inbound-policy", defaultValue = "all-unauthenticated",
            description = "For ports no Server covers: all-unauthenticated, all-authenticated, cluster-authenticated, deny or audit (default: ${DEFAULT-VALUE}).")
    String defaultInboundPolicy;

    @Option(names = "--cluster-networks", split = ",", defaultValue = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fd00::/8",
            description = "Networks of cluster-authenticated callers (default: ${DEFAULT-VALUE}).")
    List<String> clusterNetworks;

    @Option(names = "--streams-per-identity", defaultValue = "100", description = "Open streams one caller identity may hold (default: ${DEFAULT-VALUE}).")
    int streamsPerIdentity;

    @Option(names = "--streams-per-peer", defaultValue = "1000", description = "Open streams one peer address may hold (default: ${DEFAULT-VALUE}).")
    int streamsPerPeer;

    @Option(names = "--call-rate", defaultValue = "20/s,200", paramLabel = "RATE/s,BURST", description = "New calls per caller identity (default: ${DEFAULT-VALUE}).")
    String callRate;

    @Option(names = "--update-window", defaultValue = "100ms", description = "At most one update per stream per window (default: ${DEFAULT-VALUE}).")
    Duration updateWindow;

    @Option(names = "--accept-trust-domain", paramLabel = "DOMAIN", split = ",",
            description = "Also serve callers of this trust domain (repeat for several). Default: only the own trust domain's.")
    java.util.List<String> acceptTrustDomains;

    @Option(names = "--debug", description = "Serve /debug/* pages on the admin listener. Off by default (threat-model finding 5).")
    boolean debug;

    /** The service's settings from the flags, each checked by its rule; reads no file. */
    DestinationServerConfig config() {
        return DestinationServerConfig.builder(trustDomain)
                .clusterDomain(clusterDomain)
                .namespace(namespace)
                .listen(listen)
                .admin(admin)
                .probes(java.util.Optional.ofNullable(probe))
                .strictVisibility(strictVisibility)
                .defaultInboundPolicy(DefaultInboundPolicy.parse(defaultInboundPolicy))
                .clusterNetworks(clusterNetworks)
                .limits(streamsPerIdentity, streamsPerPeer, RateLimit.parse(callRate), updateWindow)
                .debug(debug)
                .acceptedTrustDomains(acceptTrustDomains == null ? java.util.Set.of() : java.util.Set.copyOf(acceptTrustDomains))
                .build();
    }

    @Override
    public Integer call() throws Exception {
        DestinationServerConfig config = config();
        Clock clock = Clock.systemUTC();
        WorkloadIdentity identityService = identityName == null
                ? ControlPlaneComponent.IDENTITY.identity(trustDomain, namespace)
                : WorkloadIdentity.parseSpiffeId(identityName);
        CredentialsStore credentials = new CredentialsStore(config.identity(), TrustAnchors.read(trustAnchor), clock);
        IdentityClient identityClient = new IdentityClient(IdentityClient.Config.defaults(config.identity(), identityAddress, identityService, tokenFile),
                credentials, clock);
        identityClient.start();
        ClusterSource cluster = source.open(dev.trellis.cluster.kubernetes.WatchedResource.ALL);
        DestinationServer server = DestinationServer.start(config, cluster, credentials, clock);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            cluster.close();
            identityClient.close();
            stopped.countDown();
        }, "trellis-destination-shutdown"));
        stopped.await();
        return 0;
    }
}
