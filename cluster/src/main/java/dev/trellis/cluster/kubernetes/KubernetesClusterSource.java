package dev.trellis.cluster.kubernetes;

import static java.util.Objects.requireNonNull;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.SnapshotListeners;
import dev.trellis.cluster.policy.PolicyResources;
import dev.trellis.cluster.routes.GatewayRoutes;
import dev.trellis.cluster.routes.MeshRoute;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cluster state from the Kubernetes API through fabric8 informers: Services, EndpointSlices,
 * Pods, Namespaces, ServiceAccounts and Trellis's policy resources, in every namespace — or
 * only those of them a component reads ({@link WatchedResource}); the rest stay empty. The
 * informers list, then watch, and list again after a lost watch; each change schedules one
 * rebuild of the snapshot from their caches after {@code coalesce}, so a burst of events makes
 * one snapshot. Not synced until every informer has listed once; {@link #problem()} names
 * informers that are not watching. Thread-safe.
 */
public final class KubernetesClusterSource implements ClusterSource {

    private static final Logger log = LoggerFactory.getLogger(KubernetesClusterSource.class);

    private final KubernetesClient client;
    private final Duration coalesce;
    private final Set<WatchedResource> watched;
    /** Written on the constructing thread and, for Gateway API routes appearing later, on the rebuilder's. */
    private final Map<String, SharedIndexInformer<? extends HasMetadata>> informers = new java.util.concurrent.ConcurrentSkipListMap<>();
    private final ResourceEventHandler<HasMetadata> onChange = new ResourceEventHandler<>() {
        @Override
        public void onAdd(HasMetadata obj) {
            scheduleRebuild();
        }

        @Override
        public void onUpdate(HasMetadata oldObj, HasMetadata newObj) {
            scheduleRebuild();
        }

        @Override
        public void onDelete(HasMetadata obj, boolean deletedFinalStateUnknown) {
            scheduleRebuild();
        }
    };
    private volatile Optional<String> gatewayApi = Optional.empty();
    private volatile RouteStatusWriter routeStatus;
    private final SnapshotListeners snapshots = new SnapshotListeners();
    private final ScheduledExecutorService rebuilder;
    private final AtomicBoolean rebuildScheduled = new AtomicBoolean();
    private volatile boolean ownsClient;
    private long generation;

    private KubernetesClusterSource(KubernetesClient client, Duration coalesce, Set<WatchedResource> watched) {
        this.client = client;
        this.coalesce = coalesce;
        this.watched = Set.copyOf(watched);
        this.rebuilder = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("trellis-k8s-cluster").daemon().factory());
    }

    /** Starts informers for {@code watched} on {@code client}, which the source closes when it closes. */
    public static KubernetesClusterSource startOwning(KubernetesClient client, Duration coalesce, Set<WatchedResource> watched) {
        KubernetesClusterSource source = start(client, coalesce, watched);
        source.ownsClient = true;
        return source;
    }

    /** Starts informers for everything on {@code client} (which the caller keeps and closes). */
    public static KubernetesClusterSource start(KubernetesClient client, Duration coalesce) {
        return start(client, coalesce, WatchedResource.ALL);
    }

    /** Starts informers for {@code watched} on {@code client} (which the caller keeps and closes). */
    public static KubernetesClusterSource start(KubernetesClient client, Duration coalesce, Set<WatchedResource> watched) {
        KubernetesClusterSource source = new KubernetesClusterSource(requireNonNull(client, "client"), requireNonNull(coalesce, "coalesce"), watched);
        source.startInformers();
        return source;
    }

    private void startInformers() {
        long resync = 0; // informers relist on a lost watch; no periodic resync needed for a level-triggered rebuild
        if (watched.contains(WatchedResource.SERVICES)) {
            add("services", client.services().inAnyNamespace().inform(cast(onChange), resync));
        }
        if (watched.contains(WatchedResource.ENDPOINT_SLICES)) {
            add("endpointslices", client.discovery().v1().endpointSlices().inAnyNamespace().inform(cast(onChange), resync));
        }
        if (watched.contains(WatchedResource.PODS)) {
            add("pods", client.pods().inAnyNamespace().inform(cast(onChange), resync));
        }
        if (watched.contains(WatchedResource.NAMESPACES)) {
            add("namespaces", client.namespaces().inform(cast(onChange), resync));
        }
        if (watched.contains(WatchedResource.SERVICE_ACCOUNTS)) {
            add("serviceaccounts", client.serviceAccounts().inAnyNamespace().inform(cast(onChange), resync));
        }
        for (String kind : watched.contains(WatchedResource.POLICY) ? PolicyResources.KINDS : List.<String>of()) {
            ResourceDefinitionContext context = new ResourceDefinitionContext.Builder()
                    .withGroup(PolicyResources.GROUP).withVersion(PolicyResources.VERSION).withKind(kind)
                    .withPlural(plural(kind)).withNamespaced(true).build();
            try {
                add(plural(kind), client.genericKubernetesResources(context).inAnyNamespace().inform(cast(onChange), resync));
            } catch (RuntimeException e) {
                close();
                throw new IllegalStateException("cluster: cannot watch " + plural(kind) + "." + PolicyResources.GROUP
                        + " (are Trellis's CRDs installed? trellis install --crds | kubectl apply -f -): " + e.getMessage(), e);
            }
        }
        if (watched.contains(WatchedResource.GATEWAY_ROUTES)) {
            watchGatewayRoutes();
            rebuilder.scheduleWithFixedDelay(this::watchGatewayRoutes, GATEWAY_API_RECHECK.toMillis(), GATEWAY_API_RECHECK.toMillis(),
                    TimeUnit.MILLISECONDS);
        }
        scheduleRebuild();
    }

    /** How often the API is asked again whether the Gateway API's route CRDs have been installed. */
    static final Duration GATEWAY_API_RECHECK = Duration.ofSeconds(30);

    /**
     * Starts an informer for each Gateway API route kind the API server serves and none watches
     * yet. The CRDs are the user's to install: while they are missing the source says so
     * ({@link #gatewayApi()}) and stays usable, and asks again every {@link #GATEWAY_API_RECHECK}.
     */
    private void watchGatewayRoutes() {
        List<String> missing = new ArrayList<>();
        for (MeshRoute.Kind kind : MeshRoute.Kind.values()) {
            String resource = kind.apiName().toLowerCase(Locale.ROOT) + "s";
            // Named with the group: Trellis's own HTTPRoute is "httproutes" too.
            String informer = resource + "." + GatewayRoutes.GROUP;
            if (informers.containsKey(informer)) {
                continue;
            }
            String groupVersion = GatewayRoutes.GROUP + "/" + GatewayRoutes.versionOf(kind);
            try {
                io.fabric8.kubernetes.api.model.APIResourceList served = client.getApiResources(groupVersion);
                boolean serves = served != null && served.getResources() != null
                        && served.getResources().stream().anyMatch(r -> resource.equals(r.getName()));
                if (!serves) {
                    missing.add(resource + " (" + groupVersion + ")");
                    continue;
                }
                log.info("cluster: watching {}", informer);
                add(informer, switch (kind) {
                    case HTTP_ROUTE -> client.resources(io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute.class).inAnyNamespace().inform(cast(onChange), 0);
                    case GRPC_ROUTE -> client.resources(io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute.class).inAnyNamespace().inform(cast(onChange), 0);
                    case TCP_ROUTE -> client.resources(io.fabric8.kubernetes.api.model.gatewayapi.v1alpha2.TCPRoute.class).inAnyNamespace()
                            .inform(cast(onChange), 0);
                });
            } catch (RuntimeException e) {
                missing.add(resource + " (" + groupVersion + ")");
                log.debug("cluster: asking for {} failed", groupVersion, e);
            }
        }
        Optional<String> now = missing.isEmpty() ? Optional.empty() : Optional.of("the Gateway API's " + String.join(", ", missing)
                + " are not served: routes of that kind are not read until their CRDs are installed");
        if (!now.equals(gatewayApi)) {
            now.ifPresent(text -> log.info("cluster: {}", text));
        }
        gatewayApi = now;
    }

    /** Writes route status on the API server through this source's client (created on first use, closed with the source). */
    @Override
    public synchronized Optional<dev.trellis.cluster.routes.RouteStatus.Sink> routeStatus() {
        if (routeStatus == null) {
            routeStatus = new RouteStatusWriter(client, java.time.Clock.systemUTC());
        }
        return Optional.of(routeStatus);
    }

    /** Which Gateway API route kinds are not read because the API server does not serve them; empty when all are. */
    public Optional<String> gatewayApi() {
        return gatewayApi;
    }

    /** The plural resource name of a Trellis kind, as its CRD declares it. */
    public static String plural(String kind) {
        String lower = kind.toLowerCase(Locale.ROOT);
        return lower.endsWith("y") ? lower.substring(0, lower.length() - 1) + "ies" : lower + "s";
    }

    @SuppressWarnings("unchecked")
    private static <T extends HasMetadata> ResourceEventHandler<T> cast(ResourceEventHandler<HasMetadata> handler) {
        return (ResourceEventHandler<T>) (ResourceEventHandler<?>) handler;
    }

    private void add(String name, SharedIndexInformer<? extends HasMetadata> informer) {
        informers.put(name, informer);
    }

    private void scheduleRebuild() {
        if (rebuildScheduled.compareAndSet(false, true)) {
            rebuilder.schedule(this::rebuild, coalesce.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void rebuild() {
        rebuildScheduled.set(false);
        try {
            ClusterSnapshot.Builder builder = new ClusterSnapshot.Builder();
            for (SharedIndexInformer<? extends HasMetadata> informer : informers.values()) {
                for (HasMetadata object : informer.getStore().list()) {
                    builder.add(object);
                }
            }
            ClusterSnapshot snapshot = builder.build(++generation);
            for (String problem : snapshot.problems()) {
                log.warn("cluster: ignoring {}", problem);
            }
            log.debug("cluster: snapshot {}: {}", snapshot.generation(), snapshot.sizes());
            snapshots.publish(snapshot);
        } catch (RuntimeException e) {
            log.error("cluster: rebuilding the snapshot failed; keeping the last one", e);
        }
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
        return informers.values().stream().allMatch(SharedIndexInformer::hasSynced) && snapshots.current().generation() > 0;
    }

    @Override
    public Optional<String> problem() {
        List<String> down = new ArrayList<>();
        informers.forEach((name, informer) -> {
            if (!informer.isWatching()) {
                down.add(name);
            }
        });
        return down.isEmpty() ? Optional.empty() : Optional.of("cluster: not watching " + String.join(", ", down) + " (resyncing)");
    }

    @Override
    public String describe() {
        return "kubernetes " + client.getMasterUrl();
    }

    @Override
    public void close() {
        if (routeStatus != null) {
            routeStatus.close();
        }
        informers.values().forEach(SharedIndexInformer::close);
        rebuilder.shutdownNow();
        if (ownsClient) {
            client.close();
        }
    }
}
