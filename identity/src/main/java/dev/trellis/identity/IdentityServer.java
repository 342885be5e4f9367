package dev.trellis.identity;

import static java.util.Objects.requireNonNull;

import dev.trellis.admin.AdminServer;
import dev.trellis.api.server.MeshGrpcServers;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.Authenticator;
import dev.trellis.identity.delegation.NodeDelegation;
import dev.trellis.identity.issuer.IssuerWatcher;
import dev.trellis.identity.issuer.ServingCertificate;
import dev.trellis.identity.service.IdentityMetrics;
import dev.trellis.identity.service.IdentityService;
import dev.trellis.identity.service.PeerAddressInterceptor;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.LeafIssuer;
import dev.trellis.tls.pki.TrustAnchors;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.netty.handler.ssl.ClientAuth;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.cert.CertificateException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running identity service: the gRPC listener (TLS, server-authenticated with a leaf
 * for the service's own identity), the admin listener, and the issuer reload loop.
 *
 * <p>The service starts even when no valid issuer is there yet: calls answer UNAVAILABLE
 * and {@code /ready} says why, until the files appear. Thread-safe; {@link #close} stops
 * everything, letting in-flight calls finish for up to five seconds.
 */
public final class IdentityServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(IdentityServer.class);

    /** Largest request message: a CSR (4 KiB) and a token (16 KiB) with room to spare. */
    static final int MAX_MESSAGE_BYTES = 32 * 1024;
    static final int MAX_METADATA_BYTES = 8 * 1024;
    static final int MAX_CALLS_PER_CONNECTION = 16;

    private final IssuerWatcher issuers;
    private final ServingCertificate serving;
    private final ScheduledExecutorService scheduler;
    private final ExecutorService callExecutor;
    private final Server grpc;
    private final AdminServer admin;

    private IdentityServer(IdentityServerConfig config, Authenticator authenticator, Optional<NodeDelegation> delegation, AuditLog audit, Clock clock)
            throws IOException, InterruptedException {
        TrustAnchors anchors = TrustAnchors.read(config.trustAnchorFile());
        PrometheusRegistry registry = new PrometheusRegistry();
        IdentityMetrics metrics = new IdentityMetrics(registry);

        this.issuers = new IssuerWatcher(config.issuerCertificateFile(), config.issuerKeyFile(), anchors, clock);
        CredentialsStore servingStore = new CredentialsStore(config.serverIdentity(), anchors, clock);
        this.serving = new ServingCertificate(config.serverIdentity(), servingStore, Duration.ofHours(24), clock);
        issuers.addListener(new IssuerWatcher.Listener() {
            @Override
            public void loaded(LeafIssuer issuer) {
                metrics.issuerLoaded(issuer.notAfter());
                renewServing(issuer, true);
            }

            @Override
            public void rejected(String reason) {
                metrics.issuerRejected();
            }
        });
        issuers.poll();

        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "trellis-identity-issuer");
            thread.setDaemon(true);
            return thread;
        });
        long interval = config.issuerReloadInterval().toMillis();
        scheduler.scheduleWithFixedDelay(this::pollIssuer, interval, interval, TimeUnit.MILLISECONDS);

        // Authenticators may block on the API server: calls run on virtual threads, never on
        // the event loop. Their number is bounded by the per-peer limit and the call cap.
        this.callExecutor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("trellis-identity-call-", 0).factory());
        IdentityService service = new IdentityService(config.trustDomain(), issuers, authenticator, delegation, config.leafLifetime(),
                config.limits(), audit, metrics, clock);
        this.grpc = MeshGrpcServers.forAddress(config.listen().toSocketAddress(), MeshSslContexts.forGrpcServer(servingStore, ClientAuth.NONE, clock))
                .addService(ServerInterceptors.intercept(service, new PeerAddressInterceptor()))
                .executor(callExecutor)
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                .maxInboundMetadataSize(MAX_METADATA_BYTES)
                .maxConcurrentCallsPerConnection(MAX_CALLS_PER_CONNECTION)
                .build();
        try {
            grpc.start();
        } catch (IOException e) {
            close();
            throw new IOException("identity: cannot listen on " + config.listen() + ": " + e.getMessage(), e);
        }
        AdminServer started = null;
        try {
            started = AdminServer.builder("identity")
                    .listen(config.admin())
                    .probes(config.probes())
                    .registry(registry)
                    .readiness(this::notReadyReason)
                    .debug(config.debug())
                    .build()
                    .start();
        } catch (RuntimeException e) {
            grpc.shutdownNow();
            scheduler.shutdownNow();
            callExecutor.shutdownNow();
            throw e;
        }
        this.admin = started;
        log.info("identity: serving Certify on {} for trust domain {} (TLS provider {}, authenticator {}, leaf lifetime {}, limits per peer {}, per identity {}, {} concurrent signings)",
                grpcAddress(), config.trustDomain(), MeshSslContexts.providerDescription(), authenticator.name(), config.leafLifetime(),
                config.limits().perPeer(), config.limits().perIdentity(), config.limits().maxConcurrentSigning());
    }

    /** Starts the service. */
    public static IdentityServer start(IdentityServerConfig config, Authenticator authenticator, AuditLog audit, Clock clock)
            throws IOException, InterruptedException {
        return start(config, authenticator, Optional.empty(), audit, clock);
    }

    /** Starts the service; with {@code delegation}, node proxies may ask for the identities of pods on their own node. */
    public static IdentityServer start(IdentityServerConfig config, Authenticator authenticator, Optional<NodeDelegation> delegation, AuditLog audit, Clock clock)
            throws IOException, InterruptedException {
        return new IdentityServer(requireNonNull(config, "config"), requireNonNull(authenticator, "authenticator"), requireNonNull(delegation, "delegation"),
                requireNonNull(audit, "audit"), requireNonNull(clock, "clock"));
    }

    public InetSocketAddress grpcAddress() {
        return (InetSocketAddress) grpc.getListenSockets().getFirst();
    }

    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    /** Empty when ready: an issuer is loaded and the service holds its own certificate. */
    public Optional<String> notReadyReason() {
        if (issuers.current().isEmpty()) {
            return Optional.of("no valid issuer loaded from " + issuers.source());
        }
        if (serving.store().current().isEmpty()) {
            return Optional.of("no serving certificate yet");
        }
        return Optional.empty();
    }

    private void pollIssuer() {
        try {
            if (!issuers.poll()) {
                issuers.current().ifPresent(issuer -> renewServing(issuer, false));
            }
        } catch (RuntimeException e) {
            log.error("identity: issuer reload failed", e);
        }
    }

    private void renewServing(LeafIssuer issuer, boolean now) {
        try {
            if (now) {
                serving.renew(issuer);
            } else {
                serving.renewIfDue(issuer);
            }
        } catch (CertificateException e) {
            log.error("{}", e.getMessage());
        }
    }

    /** Blocks until the gRPC server terminates. */
    public void awaitTermination() throws InterruptedException {
        grpc.awaitTermination();
    }

    @Override
    public void close() {
        grpc.shutdown();
        try {
            if (!grpc.awaitTermination(5, TimeUnit.SECONDS)) {
                grpc.shutdownNow();
            }
        } catch (InterruptedException e) {
            grpc.shutdownNow();
            Thread.currentThread().interrupt();
        }
        if (admin != null) {
            admin.close();
        }
        scheduler.shutdownNow();
        callExecutor.shutdownNow();
    }
}
