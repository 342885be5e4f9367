package dev.trellis.cli;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.identity.auth.Authenticator;
import dev.trellis.identity.delegation.ApiServerPods;
import dev.trellis.identity.delegation.ClusterPods;
import dev.trellis.identity.delegation.NodeDelegation;
import dev.trellis.identity.auth.KubernetesAuthenticator;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.ratelimit.RateLimit;
import dev.trellis.identity.service.CertifyLimits;
import dev.trellis.tls.pki.Pem;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.FileOutputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trellis identity serve}: run the mesh CA until SIGTERM. */
@Command(mixinStandardHelpOptions = true, name = "serve", description = {
        "Run the identity service: the mesh CA that signs proxies' certificates over gRPC/TLS.",
        "Exactly one of --token-key (local mode) or --kubernetes (TokenReview) authenticates callers."})
final class IdentityServeCommand implements Callable<Integer> {

    @Option(names = "--trust-domain", defaultValue = WorkloadIdentity.DEFAULT_TRUST_DOMAIN, description = "Trust domain (default: ${DEFAULT-VALUE}).")
    String trustDomain;

    @Option(names = "--trust-anchor", required = true, paramLabel = "FILE", description = "PEM trust anchor(s) leaves chain to.")
    Path trustAnchor;

    @Option(names = "--issuer-cert", required = true, paramLabel = "FILE", description = "PEM issuer certificate; reloaded when it changes.")
    Path issuerCert;

    @Option(names = "--issuer-key", required = true, paramLabel = "FILE", description = "PEM issuer key; reloaded when it changes.")
    Path issuerKey;

    @Option(names = "--listen", defaultValue = "0.0.0.0:8080", paramLabel = "HOST:PORT", description = "gRPC listener (default: ${DEFAULT-VALUE}).")
    HostPort listen;

    @Option(names = "--admin", defaultValue = "127.0.0.1:9990", paramLabel = "HOST:PORT", description = "Admin listener: /live /ready /metrics (default: ${DEFAULT-VALUE}).")
    HostPort admin;

    @Option(names = "--probe", paramLabel = "HOST:PORT", description = "Also answer /live and /ready (nothing else) here, for the kubelet. Default: no such listener.")
    HostPort probe;

    @ArgGroup(exclusive = true, multiplicity = "1")
    AuthenticatorChoice authenticator;

    static final class AuthenticatorChoice {
        @Option(names = "--token-key", paramLabel = "FILE", description = "Verify local-mode tokens with this key: token-key.pub.pem (preferred: the CA then never holds the minting key) or token-key.pem.")
        Path tokenKey;

        @Option(names = "--kubernetes", description = "Verify Kubernetes service-account tokens with TokenReview (audience identity.trellis.dev).")
        boolean kubernetes;
    }

    @Option(names = "--leaf-lifetime", defaultValue = "24h", description = "Lifetime of issued certificates (default: ${DEFAULT-VALUE}).")
    Duration leafLifetime;

    @Option(names = "--rate-per-peer", defaultValue = CertifyLimits.DEFAULT_PER_PEER, paramLabel = "RATE/s,BURST",
            description = "Calls per caller address (default: ${DEFAULT-VALUE}).")
    String ratePerPeer;

    @Option(names = "--rate-per-identity", defaultValue = CertifyLimits.DEFAULT_PER_IDENTITY, paramLabel = "RATE/s,BURST",
            description = "Calls per authenticated identity (default: ${DEFAULT-VALUE}).")
    String ratePerIdentity;

    @Option(names = "--max-concurrent-signing", paramLabel = "N", description = "Signings at once; more fail fast (default: number of cores, at least 2).")
    Integer maxConcurrentSigning;

    @Option(names = "--issuer-reload-interval", defaultValue = "5s", description = "How often the issuer files are checked (default: ${DEFAULT-VALUE}).")
    Duration issuerReloadInterval;

    @Option(names = "--audit-log", defaultValue = "-", paramLabel = "FILE", description = "Where audit JSON lines go; '-' is standard output (default).")
    String auditLog;

    @Option(names = "--namespace", defaultValue = ControlPlaneComponent.DEFAULT_NAMESPACE,
            description = "Namespace of the service's own identity (default: ${DEFAULT-VALUE}).")
    String namespace;

    @Option(names = "--service-account",
            description = "Service account of the service's own identity (default: trellis-identity).")
    String serviceAccount;

    @Option(names = "--debug", description = "Serve /debug/* pages on the admin listener. Off by default (threat-model finding 5).")
    boolean debug;

    @Option(names = "--node-proxies", description = {"Let node proxies (the node-proxy service account of --namespace) obtain the identities of",
            "node-mode pods scheduled on their own node, and no others. Reads pods: from the API server with --kubernetes,",
            "from --node-proxies-state DIR with --token-key. Off by default."})
    boolean nodeProxies;

    @Option(names = "--node-proxies-state", paramLabel = "DIR", description = "Local mode: the manifest directory whose Pods (spec.nodeName) --node-proxies checks against.")
    Path nodeProxiesState;

    /** The service's settings from the flags, each checked by its rule; reads no file. */
    IdentityServerConfig config() {
        CertifyLimits defaults = CertifyLimits.defaults();
        CertifyLimits limits = new CertifyLimits(RateLimit.parse(ratePerPeer), RateLimit.parse(ratePerIdentity),
                maxConcurrentSigning == null ? defaults.maxConcurrentSigning() : maxConcurrentSigning);
        return IdentityServerConfig.builder(trustDomain, trustAnchor, issuerCert, issuerKey)
                .listen(listen)
                .admin(admin)
                .probes(java.util.Optional.ofNullable(probe))
                .serverIdentity(new WorkloadIdentity(trustDomain, namespace, serviceAccount != null ? serviceAccount : ControlPlaneComponent.IDENTITY.serviceAccount()))
                .leafLifetime(leafLifetime)
                .limits(limits)
                .issuerReloadInterval(issuerReloadInterval)
                .debug(debug)
                .build();
    }

    @Override
    public Integer call() throws Exception {
        IdentityServerConfig config = config();
        Clock clock = Clock.systemUTC();
        // One API client for TokenReviews and, with --node-proxies, for the pods node proxies' requests are checked against.
        Optional<KubernetesClient> api = authenticator.kubernetes ? Optional.of(new KubernetesClientBuilder().withConfig(kubernetesConfig()).build())
                : Optional.empty();
        Authenticator callers = api.isPresent() ? new KubernetesAuthenticator(api.get())
                : new LocalTokenAuthenticator(Pem.readPublicKey(authenticator.tokenKey), clock);
        AuditLog audit = auditLog.equals("-") ? AuditLog.sharing(System.out) : AuditLog.to(new FileOutputStream(auditLog, true));
        IdentityServer server = IdentityServer.start(config, callers, nodeDelegation(api), audit, clock);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            try {
                audit.close();
            } catch (java.io.IOException ignored) {
                // nothing left to tell
            }
        }, "trellis-identity-shutdown"));
        server.awaitTermination();
        return 0;
    }

    /** Who may act for node-mode pods: nobody unless {@code --node-proxies}. */
    private Optional<NodeDelegation> nodeDelegation(Optional<KubernetesClient> api) {
        if (!nodeProxies) {
            return Optional.empty();
        }
        if (api.isPresent()) {
            return Optional.of(new NodeDelegation(namespace, new ApiServerPods(api.get())));
        }
        if (nodeProxiesState == null) {
            throw new IllegalArgumentException("identity: --node-proxies with --token-key needs --node-proxies-state DIR (the manifests whose Pods say which node runs what)");
        }
        return Optional.of(new NodeDelegation(namespace, new ClusterPods(LocalDirectorySource.start(nodeProxiesState, Duration.ofSeconds(1)))));
    }

    /** In-cluster or kubeconfig, with short timeouts and no retries: a slow API server must not hold calls. */
    private static Config kubernetesConfig() {
        Config config = Config.autoConfigure(null);
        config.setConnectionTimeout(5_000);
        config.setRequestTimeout(5_000);
        config.setRequestRetryBackoffLimit(0);
        return config;
    }
}
