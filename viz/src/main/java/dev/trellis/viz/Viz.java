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

    /**
     * What {@code viz stat} groups by: {@code DEPLOY} the Deployments, {@code WORKLOAD} the
     * owning workloads of every kind ({@link Workloads#workload}), one row per pod, or per namespace.
     */
    public enum Resource { DEPLOY, WORKLOAD, POD, NS }

    private final ClusterSource cluster;
    private final Collector collector;
    private final TapClient tapClient;
    private final String trustDomain;
    private final Clock clock;
    private final MetricsWindow window = new MetricsWindow(WINDOW.plusSeconds(30));
    private final GoldenHistory history = new GoldenHistory(20_000);
    private final java.util.concurrent.atomic.AtomicLong rounds = new java.util.concurrent.atomic.AtomicLong();
    /** When the last history point was taken; only the collecting thread reads and writes it. */
    private Instant lastHistory = Instant.EPOCH;
    private final ConcurrentHashMap<String, String> scrapeErrors = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("trellis-viz-scrape").daemon().factory());

    /** Reads one proxy's metrics text: {@link MeshScraper} over mTLS as the viz identity; generated text in benchmarks. */
    @FunctionalInterface
    public interface Scraper {
        java.util.concurrent.CompletableFuture<String> scrape(InetSocketAddress proxy, WorkloadIdentity identity);
    }

    /**
     * Where each round's metrics come from: every proxy scraped by viz itself (a {@link Scraper}),
     * or a Prometheus that scraped them (its samples, with the time each scrape was taken).
     */
    public interface Collector {
        /** Hands {@code sink} the latest metrics of each of {@code meshedPods} it can, within about 10 s, and says why for the others. */
        void collect(List<Pod> meshedPods, Sink sink) throws InterruptedException;

        /** Takes what a round collected; called from any thread. */
        interface Sink {
            /** Pod {@code podKey} ({@code namespace/name}): its proxy's metrics text as of {@code at}. */
            void metrics(String podKey, Instant at, String text);

            void failed(String podKey, String why);
        }
    }

    private Viz(ClusterSource cluster, Collector collector, TapClient tapClient, String trustDomain, Clock clock) {
        this.cluster = cluster;
        this.collector = collector;
        this.tapClient = tapClient;
        this.trustDomain = trustDomain;
        this.clock = clock;
    }

    /** Starts scraping every meshed pod's proxy with {@code scraper} every {@code interval}. */
    public static Viz start(ClusterSource cluster, Scraper scraper, TapClient tapClient, String trustDomain, Duration interval, Clock clock) {
        requireNonNull(scraper, "scraper");
        return start(cluster, new ProxyScrapes(scraper, trustDomain, clock), tapClient, trustDomain, interval, clock);
    }

    /** Starts collecting the meshed pods' metrics with {@code collector} every {@code interval}. */
    public static Viz start(ClusterSource cluster, Collector collector, TapClient tapClient, String trustDomain, Duration interval, Clock clock) {
        Viz viz = new Viz(requireNonNull(cluster, "cluster"), requireNonNull(collector, "collector"), requireNonNull(tapClient, "tapClient"),
                requireNonNull(trustDomain, "trustDomain"), clock);
        viz.timer.scheduleWithFixedDelay(viz::collectAll, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        return viz;
    }

    /** Each proxy scraped by viz itself, all at once, for at most 10 s. */
    private record ProxyScrapes(Scraper scraper, String trustDomain, Clock clock) implements Collector {
        @Override
        public void collect(List<Pod> meshedPods, Sink sink) throws InterruptedException {
            List<java.util.concurrent.CompletableFuture<?>> pending = new ArrayList<>();
            for (Pod pod : meshedPods) {
                String key = ObjectKey.of(pod).toString();
                WorkloadIdentity identity = new WorkloadIdentity(trustDomain, pod.getMetadata().getNamespace(), Workloads.serviceAccount(pod));
                pending.add(scraper.scrape(proxyAddress(pod).orElseThrow(), identity).whenComplete((text, error) -> {
                    if (error != null) {
                        sink.failed(key, String.valueOf(error.getMessage()));
                    } else {
                        sink.metrics(key, clock.instant(), text);
                    }
                }));
            }
            try {
                java.util.concurrent.CompletableFuture.allOf(pending.toArray(java.util.concurrent.CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                // errors are told per pod; a scrape still running past 10 s is late for this round
            }
        }
    }

    private void collectAll() {
        try {
            List<Pod> meshed = cluster.current().pods().stream().filter(p -> proxyAddress(p).isPresent()).toList();
            // A pod that is gone has no scrape error to show.
            java.util.Set<String> keys = new java.util.HashSet<>();
            meshed.forEach(p -> keys.add(ObjectKey.of(p).toString()));
            scrapeErrors.keySet().retainAll(keys);
            collector.collect(meshed, new Collector.Sink() {
                @Override
                public void metrics(String podKey, Instant at, String text) {
                    scrapeErrors.remove(podKey);
                    window.record(podKey, at, text);
                }

                @Override
                public void failed(String podKey, String why) {
                    if (!why.equals(scrapeErrors.put(podKey, why))) {
                        log.warn("viz: metrics of {}: {}", podKey, why);
                    }
                }
            });
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (RuntimeException e) {
            log.warn("viz: collecting metrics failed: {}", e.toString());
        }
        Instant now = clock.instant();
        window.expire(now);
        if (rounds.incrementAndGet() < 2) {
            return;  // one scrape spans no time: a history point now would say "no requests"
        }
        // A point is due once a step (10 s): rounds in between (every second with Prometheus) compute nothing for it.
        if (Duration.between(lastHistory, now).compareTo(GoldenHistory.STEP.minusMillis(500)) < 0) {
            return;
        }
        lastHistory = now;
        for (StatRow row : stat(Resource.WORKLOAD, Optional.empty(), Optional.empty(), HISTORY_WINDOW)) {
            history.record(workloadKey(row.namespace(), row.kind(), row.name()), now, row);
        }
        history.expire(now);
    }

    /** The window each history point is computed over: a few scrapes, whatever the interval. */
    private static final Duration HISTORY_WINDOW = Duration.ofSeconds(30);

    private static String workloadKey(String namespace, String kind, String name) {
        return namespace + "/" + kind + "/" + name;
    }

    /** Where {@code pod}'s proxy serves its metrics (its inbound mTLS listener), when the pod is meshed and has an address. */
    public static Optional<InetSocketAddress> proxyAddress(Pod pod) {
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
        Map<Group, List<Pod>> groups = new TreeMap<>(GROUP_ORDER);
        for (Pod pod : cluster.current().pods()) {
            String ns = pod.getMetadata().getNamespace();
            if (namespace.isPresent() && !namespace.get().equals(ns)) {
                continue;
            }
            Group group = group(resource, pod);
            if (resource == Resource.DEPLOY && !group.kind().equals(Workloads.Workload.DEPLOYMENT)) {
                continue;
            }
            if (name.isPresent() && !name.get().equals(group.name())) {
                continue;
            }
            groups.computeIfAbsent(group, g -> new ArrayList<>()).add(pod);
        }
        List<StatRow> rows = new ArrayList<>();
        groups.forEach((group, pods) -> {
            List<String> keys = pods.stream().map(p -> ObjectKey.of(p).toString()).toList();
            int meshed = (int) pods.stream().filter(Workloads::isMeshed).count();
            rows.add(window.stat(group.namespace(), group.kind(), group.name(), keys, meshed, over, now));
        });
        return rows;
    }

    /** One row of {@code viz stat}: the namespace, the kind of resource and its name. */
    private record Group(String namespace, String kind, String name) {}

    private static final Comparator<Group> GROUP_ORDER = Comparator.comparing(Group::namespace).thenComparing(Group::kind).thenComparing(Group::name);

    private static Group group(Resource resource, Pod pod) {
        String ns = pod.getMetadata().getNamespace();
        return switch (resource) {
            case DEPLOY, WORKLOAD -> {
                Workloads.Workload workload = Workloads.workload(pod);
                yield new Group(ns, workload.kind(), workload.name());
            }
            case POD -> new Group(ns, Workloads.Workload.POD, pod.getMetadata().getName());
            case NS -> new Group(ns, "Namespace", ns);
        };
    }

    /** The pods of workload {@code kind}/{@code name} in {@code namespace}, sorted by name. */
    public List<Pod> pods(String namespace, String kind, String name) {
        return cluster.current().pods().stream()
                .filter(p -> p.getMetadata().getNamespace().equals(namespace))
                .filter(p -> Workloads.workload(p).equals(new Workloads.Workload(kind, name)))
                .sorted(Comparator.comparing(p -> p.getMetadata().getName()))
                .toList();
    }

    /** Golden metrics of workload {@code kind}/{@code name} over time (empty until it was recorded). */
    public List<GoldenHistory.Sample> history(String namespace, String kind, String name, GoldenHistory.Range range) {
        if (collector instanceof HistorySource source) {
            try {
                return source.history(namespace, kind, name, range);
            } catch (java.io.IOException e) {
                log.warn("viz: history of {} {}/{} from the collector failed, so viz's own: {}", kind, namespace, name, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return history.samples(workloadKey(namespace, kind, name), range);
    }

    /**
     * A collector that keeps history itself (Prometheus) answers the charts from it: they then
     * survive a restart of viz and hold the collector's own resolution.
     */
    public interface HistorySource {
        List<GoldenHistory.Sample> history(String namespace, String kind, String name, GoldenHistory.Range range)
                throws java.io.IOException, InterruptedException;
    }

    /** What the proxies of {@code pods} refused inbound in the last minute, by reason and by Server. */
    public MetricsWindow.Refusals refusals(List<Pod> pods) {
        return window.refusals(pods.stream().map(p -> ObjectKey.of(p).toString()).toList(), WINDOW, clock.instant());
    }

    /**
     * One workload's inbound refusals under one Server in the last minute: requests and
     * connections policy denied, and those audit mode let through that enforcement would deny.
     */
    public record AuthzRow(String namespace, String kind, String workload, String server, double denied, double wouldDeny) {}

    /** Per workload of {@code namespace} and Server, what policy denied and what audit mode would have denied, in the last minute. */
    public List<AuthzRow> authz(String namespace) {
        Map<Workloads.Workload, List<Pod>> byWorkload = new java.util.TreeMap<>(java.util.Comparator.comparing(Workloads.Workload::kind)
                .thenComparing(Workloads.Workload::name));
        for (Pod pod : cluster.current().pods()) {
            if (pod.getMetadata().getNamespace().equals(namespace) && Workloads.isMeshed(pod)) {
                byWorkload.computeIfAbsent(Workloads.workload(pod), w -> new ArrayList<>()).add(pod);
            }
        }
        List<AuthzRow> rows = new ArrayList<>();
        byWorkload.forEach((workload, pods) -> {
            MetricsWindow.Refusals refusals = refusals(pods);
            java.util.Set<String> servers = new java.util.TreeSet<>(refusals.byServer().keySet());
            servers.addAll(refusals.wouldDenyByServer().keySet());
            for (String server : servers) {
                rows.add(new AuthzRow(namespace, workload.kind(), workload.name(), server, refusals.byServer().getOrDefault(server, 0.0),
                        refusals.wouldDenyByServer().getOrDefault(server, 0.0)));
            }
        });
        return rows;
    }

    /** A proxy's certificate: whose, and until when (as its last scrape said). */
    public record Certificate(String namespace, String pod, String identity, Instant notAfter) {}

    /** The certificates of every meshed pod's proxy that reported one, soonest expiry first. */
    public List<Certificate> certificates() {
        List<Certificate> out = new ArrayList<>();
        for (Pod pod : cluster.current().pods()) {
            window.certificateExpiry(ObjectKey.of(pod).toString()).ifPresent(notAfter -> out.add(new Certificate(pod.getMetadata().getNamespace(),
                    pod.getMetadata().getName(), new WorkloadIdentity(trustDomain, pod.getMetadata().getNamespace(), Workloads.serviceAccount(pod)).spiffeId(),
                    notAfter)));
        }
        out.sort(Comparator.comparing(Certificate::notAfter));
        return out;
    }

    /** The cluster state viz reads now (pods, Services, policy). */
    public ClusterSnapshot snapshot() {
        return cluster.current();
    }

    /** Pods whose proxies could not be scraped, with the last error: {@code namespace/name} to message. */
    public Map<String, String> scrapeErrors() {
        return new TreeMap<>(scrapeErrors);
    }

    /** A workload in the call graph. */
    public record Node(String namespace, String kind, String name) {}

    /** Calls from one workload to another in the window: rate, success rate (null without calls) and through which Service. */
    public record Call(Node src, Node dst, String service, double rps, Double successRate) {}

    /**
     * The call graph of {@code namespace} over the last minute: calls from its workloads, and
     * calls into them, from the callers' outbound metrics (the Service discovery resolved each
     * call to). A callee is every workload whose pods the Service selects; a Service not in the
     * cluster state is a node of kind {@code Service}.
     */
    public List<Call> topology(String namespace) {
        Instant now = clock.instant();
        ClusterSnapshot snapshot = cluster.current();
        Map<String, Pod> podsByKey = new TreeMap<>();
        snapshot.pods().forEach(p -> podsByKey.put(ObjectKey.of(p).toString(), p));
        Map<String, List<Pod>> podsByNamespace = new java.util.HashMap<>();
        snapshot.pods().forEach(p -> podsByNamespace.computeIfAbsent(p.getMetadata().getNamespace(), n -> new ArrayList<>()).add(p));
        Map<List<String>, List<Node>> calleesByService = new java.util.HashMap<>();
        Map<List<Object>, double[]> calls = new java.util.LinkedHashMap<>();
        for (MetricsWindow.ServiceCalls c : window.serviceCalls(podsByKey.keySet(), WINDOW, now)) {
            Pod caller = podsByKey.get(c.pod());
            Workloads.Workload from = Workloads.workload(caller);
            Node src = new Node(caller.getMetadata().getNamespace(), from.kind(), from.name());
            List<Node> callees = calleesByService.computeIfAbsent(List.of(c.dstNamespace(), c.dstService()),
                    k -> callees(snapshot, podsByNamespace.getOrDefault(c.dstNamespace(), List.of()), c.dstNamespace(), c.dstService()));
            for (Node dst : callees) {
                if (!src.namespace().equals(namespace) && !dst.namespace().equals(namespace)) {
                    continue;
                }
                double[] sums = calls.computeIfAbsent(List.of(src, dst, c.dstService()), k -> new double[3]);
                sums[0] += c.requests();
                sums[1] += c.successes();
                sums[2] = Math.max(sums[2], c.seconds());
            }
        }
        List<Call> out = new ArrayList<>();
        calls.forEach((key, sums) -> out.add(new Call((Node) key.get(0), (Node) key.get(1), (String) key.get(2),
                sums[2] > 0 ? sums[0] / sums[2] : 0, sums[0] > 0 ? sums[1] / sums[0] : null)));
        out.sort(Comparator.comparing((Call c) -> c.src().name()).thenComparing(c -> c.dst().name()));
        return out;
    }

    private static List<Node> callees(ClusterSnapshot snapshot, List<Pod> podsOfNamespace, String namespace, String service) {
        Optional<io.fabric8.kubernetes.api.model.Service> found = snapshot.service(new ObjectKey(namespace, service));
        Map<String, String> selector = found.map(s -> s.getSpec() == null ? null : s.getSpec().getSelector()).orElse(null);
        if (selector == null || selector.isEmpty()) {
            return List.of(new Node(namespace, "Service", service));
        }
        List<Node> nodes = podsOfNamespace.stream()
                .filter(p -> p.getMetadata().getLabels() != null && p.getMetadata().getLabels().entrySet().containsAll(selector.entrySet()))
                .map(Workloads::workload).distinct()
                .map(w -> new Node(namespace, w.kind(), w.name()))
                .toList();
        return nodes.isEmpty() ? List.of(new Node(namespace, "Service", service)) : nodes;
    }

    /** A caller and a callee that talked in the window, with the identities each presented. */
    public record EdgeRow(String src, String dst, String srcNamespace, String dstNamespace, String clientId, String serverId, boolean secured) {}

    /**
     * Who called whom in the last minute, from each pod's proxy: its inbound requests by the
     * caller's mesh identity; the caller's deployment is the one whose pods run as that
     * identity's service account. Callers and callees are named by their workload.
     */
    public List<EdgeRow> edges(Optional<String> namespace) {
        Instant now = clock.instant();
        ClusterSnapshot snapshot = cluster.current();
        Map<String, Pod> podsByKey = new java.util.HashMap<>();
        // The workloads that run as each service account, once: a caller is named by its identity's account.
        Map<String, java.util.TreeSet<String>> workloadsByAccount = new java.util.HashMap<>();
        for (Pod pod : snapshot.pods()) {
            String ns = pod.getMetadata().getNamespace();
            workloadsByAccount.computeIfAbsent(ns + "/" + Workloads.serviceAccount(pod), k -> new java.util.TreeSet<>()).add(Workloads.workload(pod).name());
            if (namespace.isEmpty() || namespace.get().equals(ns)) {
                podsByKey.put(ObjectKey.of(pod).toString(), pod);
            }
        }
        java.util.Set<EdgeRow> rows = new java.util.TreeSet<>(Comparator.comparing(EdgeRow::src).thenComparing(EdgeRow::dst).thenComparing(EdgeRow::clientId));
        for (MetricsWindow.Edge edge : window.edges(podsByKey.keySet(), WINDOW, now)) {
            Pod dst = podsByKey.get(edge.pod());
            String dstNs = dst.getMetadata().getNamespace();
            String serverId = new WorkloadIdentity(trustDomain, dstNs, Workloads.serviceAccount(dst)).spiffeId();
            String src = "unknown";
            String srcNs = "";
            try {
                WorkloadIdentity client = WorkloadIdentity.parseSpiffeId(edge.clientId());
                srcNs = client.namespace();
                java.util.TreeSet<String> callers = workloadsByAccount.get(client.namespace() + "/" + client.serviceAccount());
                src = callers == null ? "sa/" + client.serviceAccount() : String.join(",", callers);
            } catch (IllegalArgumentException e) {
                // not a SPIFFE ID ("other" when the proxy capped its label values)
            }
            rows.add(new EdgeRow(src, Workloads.workload(dst).name(), srcNs, dstNs, edge.clientId(), serverId, true));
        }
        return List.copyOf(rows);
    }

    /**
     * Per-route golden metrics of calls to {@code service} in {@code namespace}, from the callers' proxies (route
     * profiles): the calls discovery resolved to that Service, whatever authority the app used (a name, or a
     * clusterIP in transparent mode), calls by its name the proxies could not resolve, and calls by its name that
     * a route sent to another Service (a canary's backends: a row each).
     */
    public List<MetricsWindow.RouteRow> routes(String service, String namespace) {
        String prefix = service + "." + namespace + ".";
        return window.routes(key -> key.authority().startsWith(prefix)
                || (key.dstService().equals(service) && key.dstNamespace().equals(namespace)), WINDOW, clock.instant());
    }

    /** The meshed pods of {@code namespace} (of {@code workload} when given) whose proxies can be tapped now. */
    public List<Pod> tapTargets(String namespace, Optional<Workloads.Workload> workload) {
        return cluster.current().pods().stream()
                .filter(p -> p.getMetadata().getNamespace().equals(namespace))
                .filter(p -> workload.map(w -> w.equals(Workloads.workload(p))).orElse(true))
                .filter(p -> Workloads.isMeshed(p) && p.getStatus() != null && p.getStatus().getPodIP() != null)
                .toList();
    }

    /**
     * Taps {@code pod}'s proxy: events matching {@code match} go to {@code sink} (on the tap's
     * thread) until {@code limit} requests were seen or the handle is closed; {@code ended} then
     * gets why ({@code done} at the limit).
     */
    public AutoCloseable tapPod(Pod pod, dev.trellis.api.tap.v1.Match match, int limit, java.util.function.Consumer<dev.trellis.api.tap.v1.TapEvent> sink,
                                java.util.function.Consumer<String> ended) {
        String namespace = pod.getMetadata().getNamespace();
        WorkloadIdentity identity = new WorkloadIdentity(trustDomain, namespace, Workloads.serviceAccount(pod));
        return tapClient.observe(new InetSocketAddress(pod.getStatus().getPodIP(), Workloads.proxyTapPort(pod)), identity, match, limit, sink, why -> {
            if (!why.equals("done")) {
                log.info("viz: tap of {}/{} ended: {}", namespace, pod.getMetadata().getName(), why);
            }
            ended.accept(why);
        });
    }

    /**
     * Taps every pod of {@link #tapTargets}: events matching {@code match} go to {@code sink}
     * (from several threads: the sink must be thread-safe) until {@code limit} requests per pod
     * were seen; {@code allEnded} runs once every pod's tap ended. Close the handle to stop.
     */
    public AutoCloseable tap(String namespace, Optional<Workloads.Workload> workload, dev.trellis.api.tap.v1.Match match, int limit,
                             java.util.function.Consumer<dev.trellis.api.tap.v1.TapEvent> sink, Runnable allEnded) {
        List<Pod> pods = tapTargets(namespace, workload);
        java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger(pods.size());
        if (pods.isEmpty()) {
            allEnded.run();
        }
        List<AutoCloseable> taps = new ArrayList<>();
        for (Pod pod : pods) {
            taps.add(tapPod(pod, match, limit, sink, why -> {
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
