package dev.trellis.viz;

import static java.util.Objects.requireNonNull;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.Workloads;
import dev.trellis.core.identity.WorkloadIdentity;
import io.fabric8.kubernetes.api.model.Pod;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metrics API's engine: every {@code interval} it scrapes each meshed pod's proxy (over
 * mTLS, as the viz identity), keeps a window, and answers golden metrics by deployment, pod
 * or namespace. Which pods exist, and where their proxies listen, comes from the cluster
 * state. Thread-safe.
 */
public final class Viz implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Viz.class);
    /** The window rates and quantiles are computed over. */
    public static final Duration WINDOW = Duration.ofMinutes(1);

    /** What {@code viz stat} groups by. */
    public enum Resource { DEPLOY, POD, NS }

    private final ClusterSource cluster;
    private final MeshScraper scraper;
    private final TapClient tapClient;
    private final String trustDomain;
    private final Clock clock;
    private final MetricsWindow window = new MetricsWindow(WINDOW.plusSeconds(30));
    private final ConcurrentHashMap<String, String> scrapeErrors = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("trellis-viz-scrape").daemon().factory());

    private Viz(ClusterSource cluster, MeshScraper scraper, TapClient tapClient, String trustDomain, Clock clock) {
        this.cluster = cluster;
        this.scraper = scraper;
        this.tapClient = tapClient;
        this.trustDomain = trustDomain;
        this.clock = clock;
    }

    public static Viz start(ClusterSource cluster, MeshScraper scraper, TapClient tapClient, String trustDomain, Duration interval, Clock clock) {
        Viz viz = new Viz(requireNonNull(cluster, "cluster"), requireNonNull(scraper, "scraper"), requireNonNull(tapClient, "tapClient"),
                requireNonNull(trustDomain, "trustDomain"), clock);
        viz.timer.scheduleWithFixedDelay(viz::scrapeAll, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        return viz;
    }

    private void scrapeAll() {
        ClusterSnapshot snapshot = cluster.current();
        List<java.util.concurrent.CompletableFuture<?>> pending = new ArrayList<>();
        for (Pod pod : snapshot.pods()) {
            Optional<InetSocketAddress> proxy = proxyAddress(pod);
            if (proxy.isEmpty()) {
                continue;
            }
            String key = ObjectKey.of(pod).toString();
            WorkloadIdentity identity = new WorkloadIdentity(trustDomain, pod.getMetadata().getNamespace(), Workloads.serviceAccount(pod));
            pending.add(scraper.scrape(proxy.get(), identity).whenComplete((text, error) -> {
                if (error != null) {
                    if (!String.valueOf(error.getMessage()).equals(scrapeErrors.put(key, String.valueOf(error.getMessage())))) {
                        log.warn("viz: scraping {}: {}", key, error.getMessage());
                    }
                    return;
                }
                scrapeErrors.remove(key);
                window.record(key, clock.instant(), text);
            }));
        }
        try {
            java.util.concurrent.CompletableFuture.allOf(pending.toArray(java.util.concurrent.CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // errors are recorded per pod above
        }
        window.expire(clock.instant());
    }

    private static Optional<InetSocketAddress> proxyAddress(Pod pod) {
        if (!Workloads.isMeshed(pod) || pod.getStatus() == null || pod.getStatus().getPodIP() == null) {
            return Optional.empty();
        }
        return Optional.of(new InetSocketAddress(pod.getStatus().getPodIP(), Workloads.proxyInboundPort(pod).orElse(Workloads.DEFAULT_PROXY_INBOUND_PORT)));
    }

    /** Golden metrics per {@code resource}, optionally only in {@code namespace} and for {@code name}, sorted by namespace and name. */
    public List<StatRow> stat(Resource resource, Optional<String> namespace, Optional<String> name) {
        return stat(resource, namespace, name, WINDOW);
    }

    /** As {@link #stat(Resource, Optional, Optional)}, over a window of one's choosing (at most the retention, 90 s). */
    public List<StatRow> stat(Resource resource, Optional<String> namespace, Optional<String> name, Duration over) {
        Instant now = clock.instant();
        Map<String, List<Pod>> groups = new TreeMap<>();
        for (Pod pod : cluster.current().pods()) {
            String ns = pod.getMetadata().getNamespace();
            if (namespace.isPresent() && !namespace.get().equals(ns)) {
                continue;
            }
            String group = switch (resource) {
                case DEPLOY -> ns + "/" + Workloads.deployment(pod);
                case POD -> ns + "/" + pod.getMetadata().getName();
                case NS -> ns + "/" + ns;
            };
            groups.computeIfAbsent(group, g -> new ArrayList<>()).add(pod);
        }
        List<StatRow> rows = new ArrayList<>();
        groups.forEach((group, pods) -> {
            String ns = group.substring(0, group.indexOf('/'));
            String groupName = group.substring(group.indexOf('/') + 1);
            if (name.isPresent() && !name.get().equals(groupName)) {
                return;
            }
            List<String> keys = pods.stream().map(p -> ObjectKey.of(p).toString()).toList();
            int meshed = (int) pods.stream().filter(Workloads::isMeshed).count();
            rows.add(window.stat(ns, groupName, keys, meshed, over, now));
        });
        rows.sort(Comparator.comparing(StatRow::namespace).thenComparing(StatRow::name));
        return rows;
    }

    /** A caller and a callee that talked in the window, with the identities each presented. */
    public record EdgeRow(String src, String dst, String srcNamespace, String dstNamespace, String clientId, String serverId, boolean secured) {}

    /**
     * Who called whom in the last minute, from each pod's proxy: its inbound requests by the
     * caller's mesh identity; the caller's deployment is the one whose pods run as that
     * identity's service account.
     */
    public List<EdgeRow> edges(Optional<String> namespace) {
        Instant now = clock.instant();
        ClusterSnapshot snapshot = cluster.current();
        Map<String, Pod> podsByKey = new TreeMap<>();
        snapshot.pods().forEach(p -> podsByKey.put(ObjectKey.of(p).toString(), p));
        java.util.Set<EdgeRow> rows = new java.util.TreeSet<>(Comparator.comparing(EdgeRow::src).thenComparing(EdgeRow::dst).thenComparing(EdgeRow::clientId));
        for (MetricsWindow.Edge edge : window.edges(podsByKey.keySet(), WINDOW, now)) {
            Pod dst = podsByKey.get(edge.pod());
            String dstNs = dst.getMetadata().getNamespace();
            if (namespace.isPresent() && !namespace.get().equals(dstNs)) {
                continue;
            }
            String serverId = new WorkloadIdentity(trustDomain, dstNs, Workloads.serviceAccount(dst)).spiffeId();
            String src = "unknown";
            String srcNs = "";
            try {
                WorkloadIdentity client = WorkloadIdentity.parseSpiffeId(edge.clientId());
                srcNs = client.namespace();
                src = snapshot.pods().stream()
                        .filter(p -> p.getMetadata().getNamespace().equals(client.namespace()) && Workloads.serviceAccount(p).equals(client.serviceAccount()))
                        .map(Workloads::deployment).distinct().sorted().reduce((a, b) -> a + "," + b).orElse("sa/" + client.serviceAccount());
            } catch (IllegalArgumentException e) {
                // not a SPIFFE ID ("other" when the proxy capped its label values)
            }
            rows.add(new EdgeRow(src, Workloads.deployment(dst), srcNs, dstNs, edge.clientId(), serverId, true));
        }
        return List.copyOf(rows);
    }

    /**
     * Per-route golden metrics of calls to {@code service} in {@code namespace}, from the callers' proxies (route
     * profiles): the calls discovery resolved to that Service, whatever authority the app used (a name, or a
     * clusterIP in transparent mode), and calls by its name the proxies could not resolve.
     */
    public List<MetricsWindow.RouteRow> routes(String service, String namespace) {
        String prefix = service + "." + namespace + ".";
        return window.routes(key -> key.dstService().isEmpty() ? key.authority().startsWith(prefix)
                : key.dstService().equals(service) && key.dstNamespace().equals(namespace), WINDOW, clock.instant());
    }

    /**
     * Taps every meshed pod of {@code namespace} (of deployment {@code deployment} when given):
     * events matching {@code match} go to {@code sink} (from several threads: the sink must be
     * thread-safe) until {@code limit} requests per pod were seen. Close the handle to stop.
     */
    public AutoCloseable tap(String namespace, Optional<String> deployment, dev.trellis.api.tap.v1.Match match, int limit,
                             java.util.function.Consumer<dev.trellis.api.tap.v1.TapEvent> sink, Runnable allEnded) {
        List<AutoCloseable> taps = new ArrayList<>();
        List<Pod> pods = cluster.current().pods().stream()
                .filter(p -> p.getMetadata().getNamespace().equals(namespace))
                .filter(p -> deployment.map(d -> d.equals(Workloads.deployment(p))).orElse(true))
                .filter(p -> Workloads.isMeshed(p) && p.getStatus() != null && p.getStatus().getPodIP() != null)
                .toList();
        java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger(pods.size());
        if (pods.isEmpty()) {
            allEnded.run();
        }
        for (Pod pod : pods) {
            WorkloadIdentity identity = new WorkloadIdentity(trustDomain, namespace, Workloads.serviceAccount(pod));
            taps.add(tapClient.observe(new InetSocketAddress(pod.getStatus().getPodIP(), Workloads.proxyTapPort(pod)), identity, match, limit, sink, why -> {
                if (!why.equals("done")) {
                    log.info("viz: tap of {}/{} ended: {}", namespace, pod.getMetadata().getName(), why);
                }
                if (open.decrementAndGet() == 0) {
                    allEnded.run();
                }
            }));
        }
        return () -> {
            for (AutoCloseable tap : taps) {
                tap.close();
            }
        };
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
