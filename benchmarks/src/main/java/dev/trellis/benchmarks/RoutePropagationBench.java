package dev.trellis.benchmarks;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.SnapshotListeners;
import dev.trellis.cluster.manifest.ManifestParser;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.destination.DestinationServer;
import dev.trellis.destination.DestinationServerConfig;
import dev.trellis.ratelimit.RateLimit;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.wire.destination.DestinationService;
import dev.trellis.wire.destination.GetDestination;
import dev.trellis.wire.destination.Profile;
import dev.trellis.wire.grpc.GrpcClient;
import dev.trellis.wire.grpc.GrpcStatus;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * How long a route change takes to reach the proxies that watch it: the real destination
 * service (mTLS, the real translation and publisher) with {@code watchers} profile streams,
 * each on a connection of its own with an identity of its own, as that many proxies hold
 * them; each stream decodes profiles with the proxy's own wire reader. A GRPCRoute's weights
 * change {@code changes} times, 500 ms apart; for each change and watcher, the time from the
 * destination service's new snapshot to the watcher holding the new profile is recorded.
 * Printed: p50, p90, p99 and max over all of them. {@code routes} GRPCRoutes on the Service
 * (1 for a canary; 1,000 for the matching benchmark's Service) make the profile larger.
 *
 * <p>Not included: how long the cluster source takes to see the change (an informer's watch
 * event plus its 50 ms coalescing on Kubernetes; the poll interval of a manifest directory).
 *
 * <p>Usage: {@code RoutePropagationBench [watchers=1000] [changes=20] [routes=1]}
 */
public final class RoutePropagationBench {

    private RoutePropagationBench() {
    }

    /** A source whose snapshots this bench publishes. */
    private static final class BenchSource implements ClusterSource {
        private final SnapshotListeners snapshots = new SnapshotListeners();
        private final ManifestParser parser = new ManifestParser();
        private long generation;

        void publish(String yaml) throws Exception {
            ClusterSnapshot.Builder builder = new ClusterSnapshot.Builder();
            // One document at a time: a manifest file holds 1,000 at most, as a directory source reads them.
            for (String document : yaml.split("(?m)^---$")) {
                if (!document.isBlank()) {
                    parser.parse("bench.yaml", document).forEach(builder::add);
                }
            }
            snapshots.publish(builder.build(++generation));
        }

        @Override
        public ClusterSnapshot current() {
            return snapshots.current();
        }

        @Override
        public AutoCloseable subscribe(Consumer<ClusterSnapshot> listener) {
            return snapshots.subscribe(listener);
        }

        @Override
        public boolean synced() {
            return generation > 0;
        }

        @Override
        public Optional<String> problem() {
            return Optional.empty();
        }

        @Override
        public String describe() {
            return "bench";
        }

        @Override
        public void close() {
        }
    }

    /** The Services and {@code routes} GRPCRoutes on emoji (one rule each: the Gateway API allows 16 rules a route), weights by {@code weight}. */
    static String state(int weight, int routes) {
        StringBuilder out = new StringBuilder();
        for (String service : List.of("emoji", "emoji-v1", "emoji-v2")) {
            out.append("---\napiVersion: v1\nkind: Service\nmetadata: {namespace: emojivoto, name: ").append(service)
                    .append("}\nspec: {ports: [{name: grpc, port: 8080}]}\n");
        }
        for (int i = 0; i < routes; i++) {
            out.append("""
                    ---
                    apiVersion: gateway.networking.k8s.io/v1
                    kind: GRPCRoute
                    metadata: {namespace: emojivoto, name: emoji-canary-%04d}
                    spec:
                      parentRefs: [{group: "", kind: Service, name: emoji, port: 8080}]
                      rules:
                        - matches: [{method: {service: emojivoto.v1.EmojiService, method: Call%d}}]
                          backendRefs: [{name: emoji-v1, port: 8080, weight: %d}, {name: emoji-v2, port: 8080, weight: %d}]
                    """.formatted(i, i, 100 - weight, weight));
        }
        return out.toString();
    }

    public static void main(String[] args) throws Exception {
        int watchers = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        int changes = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        int routes = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        Path dir = Files.createTempDirectory("trellis-route-propagation");
        TestPki pki = TestPki.create(dir);
        Clock clock = Clock.systemUTC();
        BenchSource source = new BenchSource();
        source.publish(state(1, routes));
        DestinationServerConfig config = DestinationServerConfig.builder(TestPki.TRUST_DOMAIN)
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0))
                // Every watcher comes from loopback: the per-peer limits are a cluster's, not this bench's.
                .limits(100, watchers * 2, RateLimit.parse("100000/s,100000"), Duration.ofMillis(100))
                .build();
        CredentialsStore serverCredentials = new CredentialsStore(config.identity(), pki.trustAnchors(), clock);
        serverCredentials.install(pki.credentialsFor(config.identity(), Duration.ofHours(1)));
        DestinationServer destination = DestinationServer.start(config, source, serverCredentials, clock);
        NioEventLoopGroup loops = new NioEventLoopGroup(2);
        ExecutorService callbacks = Executors.newSingleThreadExecutor();
        String authority = "emoji.emojivoto.svc.cluster.local:8080";
        int[] seenWeight = new int[watchers];
        long[] changedAt = new long[changes + 2];
        ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
        CountDownLatch[] reached = new CountDownLatch[changes + 2];
        for (int i = 0; i < reached.length; i++) {
            reached[i] = new CountDownLatch(watchers);
        }
        List<GrpcClient> clients = new ArrayList<>();
        long openStart = System.nanoTime();
        for (int w = 0; w < watchers; w++) {
            WorkloadIdentity identity = TestPki.identity("emojivoto", "proxy-" + w);
            CredentialsStore credentials = new CredentialsStore(identity, pki.trustAnchors(), clock);
            credentials.install(pki.credentialsFor(identity, Duration.ofHours(1)));
            GrpcClient client = new GrpcClient(new GrpcClient.Config("127.0.0.1", destination.grpcAddress().getPort(), config.identity().dnsName(),
                    Optional.of(MeshSslContexts.forGrpcClient(pki.trustAnchors(), Optional.of(credentials), clock)), loops, NioSocketChannel.class,
                    callbacks, 8 * 1024 * 1024, Duration.ofSeconds(10)));
            clients.add(client);
            int watcher = w;
            client.serverStream(DestinationService.GET_PROFILE, new GetDestination(authority, "emojivoto"), Profile::read, new GrpcClient.Listener<>() {
                @Override
                public void onMessage(Profile profile) {
                    long now = System.nanoTime();
                    int weight = profile.routes().isEmpty() || profile.routes().getFirst().backends().size() < 2 ? -1
                            : profile.routes().getFirst().backends().get(1).weight();
                    if (weight > seenWeight[watcher] && weight < reached.length) {
                        seenWeight[watcher] = weight;
                        if (changedAt[weight] != 0) {
                            latencies.add(now - changedAt[weight]);
                        }
                        reached[weight].countDown();
                    }
                }

                @Override
                public void onClose(GrpcStatus status) {
                    System.err.println("watcher " + watcher + " closed: " + status);
                }
            });
        }
        if (!reached[1].await(120, TimeUnit.SECONDS)) {
            throw new IllegalStateException("only " + (watchers - reached[1].getCount()) + " of " + watchers + " watchers got the first profile");
        }
        System.out.printf("%d watchers opened and got their first profile in %d ms%n", watchers, (System.nanoTime() - openStart) / 1_000_000);
        for (int change = 2; change < changes + 2; change++) {
            Thread.sleep(500);
            String next = state(change, routes);
            changedAt[change] = System.nanoTime();
            source.publish(next);
            if (!reached[change].await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("change " + change + " reached " + (watchers - reached[change].getCount()) + " of " + watchers);
            }
        }
        long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        System.out.printf("route change to %d watchers, %d changes, %d rule(s): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (%d samples)%n",
                watchers, changes, routes, at(sorted, 0.50), at(sorted, 0.90), at(sorted, 0.99), sorted[sorted.length - 1] / 1e6, sorted.length);
        clients.forEach(GrpcClient::close);
        destination.close();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        callbacks.shutdownNow();
        System.exit(0);
    }

    private static double at(long[] sorted, double quantile) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(quantile * sorted.length) - 1)] / 1e6;
    }
}
