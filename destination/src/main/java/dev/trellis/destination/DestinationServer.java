package dev.trellis.destination;

import static java.util.Objects.requireNonNull;

import dev.trellis.admin.AdminServer;
import dev.trellis.api.server.MeshGrpcServers;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.destination.translate.LastGoodRoutes;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.netty.handler.ssl.ClientAuth;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination service: {@code Destination} (Get, GetProfile) and {@code Policy}
 * (WatchInbound, WatchEgress) over gRPC with mutual TLS, answering from a
 * {@link ClusterSource}; admin ({@code /live}, {@code /ready}, {@code /metrics}) on loopback.
 * Every call is attributed to the caller's mesh identity and held to its limits.
 */
public final class DestinationServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DestinationServer.class);
    /** Bounds what a caller can make the server hold per call. */
    private static final int MAX_INBOUND_MESSAGE_BYTES = 16 * 1024;
    private static final int MAX_CONCURRENT_CALLS_PER_CONNECTION = 2_000;

    private final Server grpc;
    private final AdminServer admin;
    private final Publisher publisher;
    private final RouteStatusPublisher statuses;

    private DestinationServer(Server grpc, AdminServer admin, Publisher publisher, RouteStatusPublisher statuses) {
        this.grpc = grpc;
        this.admin = admin;
        this.publisher = publisher;
        this.statuses = statuses;
    }

    /**
     * Starts serving. {@code credentials} must hold (or soon hold) the destination identity's
     * certificate; the service is ready once it does and the source has synced.
     */
    public static DestinationServer start(DestinationServerConfig config, ClusterSource source, CredentialsStore credentials, Clock clock)
            throws IOException, InterruptedException {
        requireNonNull(config, "config");
        requireNonNull(source, "source");
        PrometheusRegistry registry = new PrometheusRegistry();
        DestinationMetrics metrics = new DestinationMetrics(registry);
        Publisher publisher = new Publisher(source, config.updateWindow(), metrics);
        // The Gateway API routes in force, shared by every profile stream and the routes' status.
        LastGoodRoutes routes = new LastGoodRoutes();
        Streams streams = new Streams(new CallerLimits(config.streamsPerIdentity(), config.streamsPerPeer(), config.callRate()), publisher, metrics);
        Server grpc = MeshGrpcServers.forAddress(config.listen().toSocketAddress(), MeshSslContexts.forGrpcServer(credentials, ClientAuth.REQUIRE, clock))
                .maxInboundMessageSize(MAX_INBOUND_MESSAGE_BYTES)
                .maxConcurrentCallsPerConnection(MAX_CONCURRENT_CALLS_PER_CONNECTION)
                .addService(ServerInterceptors.intercept(new DestinationService(config, source, streams, metrics, routes),
                        new Caller.Interceptor(config.acceptedTrustDomains(), metrics)))
                .addService(ServerInterceptors.intercept(new PolicyService(config, source, streams, metrics),
                        new Caller.Interceptor(config.acceptedTrustDomains(), metrics)))
                .build();
        try {
            grpc.start();
        } catch (IOException e) {
            publisher.close();
            throw new IOException("destination: cannot listen on " + config.listen() + ": " + e.getMessage(), e);
        }
        AdminServer admin = AdminServer.builder("destination")
                .listen(config.admin())
                .probes(config.probes())
                .registry(registry)
                .debug(config.debug())
                .readiness(() -> {
                    if (credentials.current().isEmpty()) {
                        return Optional.of("no certificate yet for " + credentials.identity());
                    }
                    if (!source.synced()) {
                        return Optional.of(source.problem().orElse("cluster state from " + source.describe() + " not loaded yet"));
                    }
                    return source.problem();
                })
                .build();
        try {
            admin.start();
        } catch (RuntimeException e) {
            grpc.shutdownNow();
            publisher.close();
            throw e;
        }
        RouteStatusPublisher statuses = new RouteStatusPublisher(source, routes);
        log.info("destination: serving on {} for {} from {} (visibility {}, default inbound policy {}, limits {} streams per identity, {} per peer, calls {})",
                grpc.getListenSockets().getFirst(), config.identity(), source.describe(), config.strictVisibility() ? "strict" : "cluster-wide",
                config.defaultInboundPolicy(), config.streamsPerIdentity(), config.streamsPerPeer(), config.callRate());
        return new DestinationServer(grpc, admin, publisher, statuses);
    }

    public InetSocketAddress grpcAddress() {
        return (InetSocketAddress) grpc.getListenSockets().getFirst();
    }

    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    /** Streams open now. */
    public int openStreams() {
        return publisher.size();
    }

    @Override
    public void close() {
        statuses.close();
        publisher.close();
        grpc.shutdown();
        try {
            if (!grpc.awaitTermination(5, TimeUnit.SECONDS)) {
                grpc.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            grpc.shutdownNow();
        }
        admin.close();
    }
}
