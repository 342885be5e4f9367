package dev.trellis.viz;

import static dev.trellis.core.metrics.ProxyMetricNames.AUTHORITY;
import static dev.trellis.core.metrics.ProxyMetricNames.CLASSIFICATION;
import static dev.trellis.core.metrics.ProxyMetricNames.CERT_EXPIRY;
import static dev.trellis.core.metrics.ProxyMetricNames.CLIENT_ID;
import static dev.trellis.core.metrics.ProxyMetricNames.DIRECTION;
import static dev.trellis.core.metrics.ProxyMetricNames.DST_NAMESPACE;
import static dev.trellis.core.metrics.ProxyMetricNames.DST_SERVICE;
import static dev.trellis.core.metrics.ProxyMetricNames.INBOUND;
import static dev.trellis.core.metrics.ProxyMetricNames.INBOUND_HTTP_AUTHZ_AUDIT;
import static dev.trellis.core.metrics.ProxyMetricNames.INBOUND_HTTP_AUTHZ_DENY;
import static dev.trellis.core.metrics.ProxyMetricNames.INBOUND_TCP_AUTHZ_AUDIT;
import static dev.trellis.core.metrics.ProxyMetricNames.INBOUND_TCP_AUTHZ_DENY;
import static dev.trellis.core.metrics.ProxyMetricNames.INBOUND_REQUESTS_BY_CLIENT;
import static dev.trellis.core.metrics.ProxyMetricNames.LE;
import static dev.trellis.core.metrics.ProxyMetricNames.OUTBOUND;
import static dev.trellis.core.metrics.ProxyMetricNames.REASON;
import static dev.trellis.core.metrics.ProxyMetricNames.REQUEST_REFUSED;
import static dev.trellis.core.metrics.ProxyMetricNames.RESPONSE;
import static dev.trellis.core.metrics.ProxyMetricNames.RESPONSE_LATENCY_MS;
import static dev.trellis.core.metrics.ProxyMetricNames.ROUTE;
import static dev.trellis.core.metrics.ProxyMetricNames.ROUTE_KIND;
import static dev.trellis.core.metrics.ProxyMetricNames.ROUTE_RESPONSE;
import static dev.trellis.core.metrics.ProxyMetricNames.ROUTE_RESPONSE_LATENCY_MS;
import static dev.trellis.core.metrics.ProxyMetricNames.SERVER_NAME;
import static dev.trellis.core.metrics.ProxyMetricNames.SUCCESS;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_OPEN;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_OPEN_CONNECTIONS;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_READ_BYTES;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_REFUSED;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_WRITE_BYTES;
import static dev.trellis.core.metrics.ProxyMetricNames.TLS;
import static dev.trellis.core.metrics.ProxyMetricNames.TLS_MUTUAL;
import static dev.trellis.core.metrics.ProxyMetricNames.bucket;
import static dev.trellis.core.metrics.ProxyMetricNames.total;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The last minutes of each pod's proxy metrics, as scraped: enough for one-minute rates and
 * latency quantiles. Keeps {@code retention} per pod and forgets pods not scraped within it.
 * Thread-safe.
 */
public final class MetricsWindow {

    /**
     * What one scrape of one proxy says, summed over authorities (inbound side); {@code refusals}
     * counts inbound requests and connections the proxy refused, by reason, and
     * {@code policyDenials} those denied by policy, by Server, and {@code policyAudits} those audit
     * mode let through that policy would have denied, by Server; {@code certificateExpiry} is the
     * proxy's certificate's notAfter in Unix seconds (0: not reported).
     */
    record Point(Instant at, double requests, double successes, TreeMap<Double, Double> latencyBuckets, double tcpOpen,
                 double readBytes, double writeBytes, double plaintextConnections, Map<String, Double> byClient, Map<RouteKey, RoutePoint> routes,
                 Map<String, Double> refusals, Map<String, Double> policyDenials, Map<String, Double> policyAudits, double certificateExpiry) {}

    /** An outbound route: the authority called, the Service discovery said it is (empty when none), and the profile's route name. */
    public record RouteKey(String authority, String dstNamespace, String dstService, String route, String routeKind) {}

    /** What one scrape says of one outbound route. */
    record RoutePoint(double requests, double successes, TreeMap<Double, Double> latencyBuckets) {}

    /** Traffic from one client identity to one pod in the window. */
    public record Edge(String pod, String clientId, double requests) {}

    /** Golden metrics of one outbound route, summed over the calling pods. */
    /**
     * One route's golden metrics towards one backend Service ({@code dstService}: a weighted
     * route's calls are a row per backend); {@code routeKind} says where the route comes from
     * ({@code HTTPRoute}, {@code GRPCRoute}, {@code TrellisRoute}, or empty for {@code [default]}).
     */
    public record RouteRow(String authority, String route, String routeKind, String dstService, Double successRate, double rps, Double latencyP50Ms, Double latencyP95Ms, Double latencyP99Ms) {}

    private final Duration retention;
    private final ConcurrentHashMap<String, Deque<Point>> byPod = new ConcurrentHashMap<>();

    public MetricsWindow(Duration retention) {
        this.retention = retention;
    }

    /** Records a scrape of pod {@code podKey} ({@code namespace/name}) taken at {@code at}; one not newer than the last is ignored. */
    public void record(String podKey, Instant at, String prometheusText) {
        double requests = 0;
        double successes = 0;
        double tcpOpen = 0;
        double read = 0;
        double write = 0;
        double plaintext = 0;
        TreeMap<Double, Double> buckets = new TreeMap<>();
        Map<String, Double> byClient = new java.util.HashMap<>();
        Map<RouteKey, double[]> routeCounts = new java.util.HashMap<>();
        Map<RouteKey, TreeMap<Double, Double>> routeBuckets = new java.util.HashMap<>();
        Map<String, Double> refusals = new java.util.HashMap<>();
        Map<String, Double> policyDenials = new java.util.HashMap<>();
        Map<String, Double> policyAudits = new java.util.HashMap<>();
        double certificateExpiry = 0;
        for (PromText.Sample sample : PromText.parse(prometheusText)) {
            if (sample.name().equals(CERT_EXPIRY)) {
                certificateExpiry = sample.value();
                continue;
            }
            if (sample.name().equals(total(INBOUND_HTTP_AUTHZ_DENY)) || sample.name().equals(total(INBOUND_TCP_AUTHZ_DENY))) {
                policyDenials.merge(sample.label(SERVER_NAME), sample.value(), Double::sum);
                continue;
            }
            if (sample.name().equals(total(INBOUND_HTTP_AUTHZ_AUDIT)) || sample.name().equals(total(INBOUND_TCP_AUTHZ_AUDIT))) {
                policyAudits.merge(sample.label(SERVER_NAME), sample.value(), Double::sum);
                continue;
            }
            if ((sample.name().equals(total(REQUEST_REFUSED)) || sample.name().equals(total(TCP_REFUSED))) && INBOUND.equals(sample.label(DIRECTION))) {
                refusals.merge(sample.label(REASON), sample.value(), Double::sum);
                continue;
            }
            if (sample.name().equals(total(INBOUND_REQUESTS_BY_CLIENT))) {
                byClient.merge(sample.label(CLIENT_ID), sample.value(), Double::sum);
                continue;
            }
            if (OUTBOUND.equals(sample.label(DIRECTION)) && sample.name().startsWith(ROUTE_RESPONSE)) {
                RouteKey key = new RouteKey(sample.label(AUTHORITY), sample.label(DST_NAMESPACE), sample.label(DST_SERVICE), sample.label(ROUTE),
                        sample.label(ROUTE_KIND));
                if (sample.name().equals(total(ROUTE_RESPONSE))) {
                    double[] counts = routeCounts.computeIfAbsent(key, k -> new double[2]);
                    counts[0] += sample.value();
                    if (SUCCESS.equals(sample.label(CLASSIFICATION))) {
                        counts[1] += sample.value();
                    }
                } else if (sample.name().equals(bucket(ROUTE_RESPONSE_LATENCY_MS))) {
                    String le = sample.label(LE);
                    routeBuckets.computeIfAbsent(key, k -> new TreeMap<>())
                            .merge(le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le), sample.value(), Double::sum);
                }
                continue;
            }
            if (!INBOUND.equals(sample.label(DIRECTION))) {
                continue;
            }
            String name = sample.name();
            if (name.equals(total(RESPONSE))) {
                requests += sample.value();
                if (SUCCESS.equals(sample.label(CLASSIFICATION))) {
                    successes += sample.value();
                }
            } else if (name.equals(bucket(RESPONSE_LATENCY_MS))) {
                String le = sample.label(LE);
                double bound = le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le);
                buckets.merge(bound, sample.value(), Double::sum);
            } else if (name.equals(TCP_OPEN_CONNECTIONS)) {
                tcpOpen += sample.value();
            } else if (name.equals(total(TCP_OPEN))) {
                if (!TLS_MUTUAL.equals(sample.label(TLS))) {
                    plaintext += sample.value();
                }
            } else if (name.equals(total(TCP_READ_BYTES))) {
                read += sample.value();
            } else if (name.equals(total(TCP_WRITE_BYTES))) {
                write += sample.value();
            }
        }
        Deque<Point> points = byPod.computeIfAbsent(podKey, k -> new ArrayDeque<>());
        synchronized (points) {
            if (!points.isEmpty() && !points.peekLast().at().isBefore(at)) {
                return;  // not newer than what we have (a Prometheus that has not scraped the pod again yet)
            }
            Map<RouteKey, RoutePoint> routes = new java.util.HashMap<>();
        routeCounts.forEach((key, counts) -> routes.put(key, new RoutePoint(counts[0], counts[1], routeBuckets.getOrDefault(key, new TreeMap<>()))));
        points.addLast(new Point(at, requests, successes, buckets, tcpOpen, read, write, plaintext, Map.copyOf(byClient), Map.copyOf(routes),
                    Map.copyOf(refusals), Map.copyOf(policyDenials), Map.copyOf(policyAudits), certificateExpiry));
            while (!points.isEmpty() && points.peekFirst().at().isBefore(at.minus(retention))) {
                points.removeFirst();
            }
        }
    }

    /** Forgets pods whose last scrape is older than the retention. */
    public void expire(Instant now) {
        byPod.entrySet().removeIf(e -> {
            synchronized (e.getValue()) {
                return e.getValue().isEmpty() || e.getValue().peekLast().at().isBefore(now.minus(retention));
            }
        });
    }

    /**
     * The golden metrics of {@code pods} (keys {@code namespace/name}) over the last
     * {@code window}: the newest point of each pod against its oldest within the window.
     */
    public StatRow stat(String namespace, String kind, String name, Collection<String> pods, int meshedPods, Duration window, Instant now) {
        double requests = 0;
        double successes = 0;
        double seconds = 0;
        double tcpOpen = 0;
        double read = 0;
        double write = 0;
        double plaintext = 0;
        TreeMap<Double, Double> buckets = new TreeMap<>();
        for (String pod : pods) {
            Deque<Point> points = byPod.get(pod);
            if (points == null) {
                continue;
            }
            Point first;
            Point last;
            synchronized (points) {
                if (points.isEmpty()) {
                    continue;
                }
                last = points.peekLast();
                first = points.stream().filter(p -> !p.at().isBefore(now.minus(window))).findFirst().orElse(last);
            }
            tcpOpen += last.tcpOpen();
            if (first == last) {
                continue;
            }
            // A counter that went down means the proxy restarted: count from zero.
            requests += delta(last.requests(), first.requests());
            successes += delta(last.successes(), first.successes());
            read += delta(last.readBytes(), first.readBytes());
            write += delta(last.writeBytes(), first.writeBytes());
            plaintext += delta(last.plaintextConnections(), first.plaintextConnections());
            seconds = Math.max(seconds, Duration.between(first.at(), last.at()).toMillis() / 1000.0);
            for (Map.Entry<Double, Double> bucket : last.latencyBuckets().entrySet()) {
                buckets.merge(bucket.getKey(), delta(bucket.getValue(), first.latencyBuckets().getOrDefault(bucket.getKey(), 0.0)), Double::sum);
            }
        }
        boolean any = requests > 0;
        return new StatRow(namespace, kind, name, meshedPods, pods.size(),
                any ? successes / requests : null,
                seconds > 0 ? requests / seconds : 0,
                any ? quantile(buckets, 0.50) : null, any ? quantile(buckets, 0.95) : null, any ? quantile(buckets, 0.99) : null,
                Math.round(tcpOpen), seconds > 0 ? read / seconds : 0, seconds > 0 ? write / seconds : 0,
                any ? plaintext == 0 : null);
    }

    /** Which client identities called each of {@code pods} in the window, and how often. */
    public java.util.List<Edge> edges(Collection<String> pods, Duration window, Instant now) {
        java.util.List<Edge> edges = new java.util.ArrayList<>();
        for (String pod : pods) {
            Point[] span = span(pod, window, now);
            if (span == null || span[0] == span[1]) {
                continue;
            }
            for (var client : span[1].byClient().entrySet()) {
                double calls = delta(client.getValue(), span[0].byClient().getOrDefault(client.getKey(), 0.0));
                if (calls > 0) {
                    edges.add(new Edge(pod, client.getKey(), calls));
                }
            }
        }
        return edges;
    }

    /** Golden metrics per outbound route that {@code wanted} matches, summed over every pod's proxy. */
    public java.util.List<RouteRow> routes(java.util.function.Predicate<RouteKey> wanted, Duration window, Instant now) {
        Map<RouteKey, double[]> counts = new TreeMap<>(java.util.Comparator.comparing(RouteKey::authority).thenComparing(RouteKey::route)
                .thenComparing(RouteKey::dstNamespace).thenComparing(RouteKey::dstService).thenComparing(RouteKey::routeKind));
        Map<RouteKey, TreeMap<Double, Double>> buckets = new java.util.HashMap<>();
        double seconds = 0;
        for (String pod : byPod.keySet()) {
            Point[] span = span(pod, window, now);
            if (span == null || span[0] == span[1]) {
                continue;
            }
            seconds = Math.max(seconds, Duration.between(span[0].at(), span[1].at()).toMillis() / 1000.0);
            for (var route : span[1].routes().entrySet()) {
                if (!wanted.test(route.getKey())) {
                    continue;
                }
                RoutePoint before = span[0].routes().getOrDefault(route.getKey(), new RoutePoint(0, 0, new TreeMap<>()));
                double[] c = counts.computeIfAbsent(route.getKey(), k -> new double[2]);
                c[0] += delta(route.getValue().requests(), before.requests());
                c[1] += delta(route.getValue().successes(), before.successes());
                TreeMap<Double, Double> b = buckets.computeIfAbsent(route.getKey(), k -> new TreeMap<>());
                route.getValue().latencyBuckets().forEach((le, v) -> b.merge(le, delta(v, before.latencyBuckets().getOrDefault(le, 0.0)), Double::sum));
            }
        }
        double over = seconds;
        java.util.List<RouteRow> rows = new java.util.ArrayList<>();
        counts.forEach((key, c) -> {
            boolean any = c[0] > 0;
            TreeMap<Double, Double> b = buckets.getOrDefault(key, new TreeMap<>());
            rows.add(new RouteRow(key.authority(), key.route(), key.routeKind(), key.dstService(), any ? c[1] / c[0] : null, over > 0 ? c[0] / over : 0,
                    any ? quantile(b, 0.5) : null, any ? quantile(b, 0.95) : null, any ? quantile(b, 0.99) : null));
        });
        return rows;
    }

    /**
     * What the proxies of {@code pods} refused inbound in the window: by reason, and by the
     * policy's Server; and what audit mode let through that policy would have refused, by Server.
     */
    public record Refusals(Map<String, Double> byReason, Map<String, Double> byServer, Map<String, Double> wouldDenyByServer) {}

    /** Inbound refusals of {@code pods} in the window, summed. */
    public Refusals refusals(Collection<String> pods, Duration window, Instant now) {
        Map<String, Double> byReason = new TreeMap<>();
        Map<String, Double> byServer = new TreeMap<>();
        Map<String, Double> wouldDeny = new TreeMap<>();
        for (String pod : pods) {
            Point[] span = span(pod, window, now);
            if (span == null || span[0] == span[1]) {
                continue;
            }
            span[1].refusals().forEach((reason, v) -> addIfAny(byReason, reason, delta(v, span[0].refusals().getOrDefault(reason, 0.0))));
            span[1].policyDenials().forEach((server, v) -> addIfAny(byServer, server, delta(v, span[0].policyDenials().getOrDefault(server, 0.0))));
            span[1].policyAudits().forEach((server, v) -> addIfAny(wouldDeny, server, delta(v, span[0].policyAudits().getOrDefault(server, 0.0))));
        }
        return new Refusals(byReason, byServer, wouldDeny);
    }

    private static void addIfAny(Map<String, Double> into, String key, double value) {
        if (value > 0) {
            into.merge(key, value, Double::sum);
        }
    }

    /** Calls from one pod to one Service in the window, from the pod's outbound route metrics. */
    public record ServiceCalls(String pod, String dstNamespace, String dstService, double requests, double successes, double seconds) {}

    /** The Services each of {@code pods} called in the window (calls discovery resolved to a Service), with their outcomes. */
    public java.util.List<ServiceCalls> serviceCalls(Collection<String> pods, Duration window, Instant now) {
        java.util.List<ServiceCalls> calls = new java.util.ArrayList<>();
        for (String pod : pods) {
            Point[] span = span(pod, window, now);
            if (span == null || span[0] == span[1]) {
                continue;
            }
            double seconds = Duration.between(span[0].at(), span[1].at()).toMillis() / 1000.0;
            Map<java.util.List<String>, double[]> byService = new TreeMap<>(java.util.Comparator.comparing((java.util.List<String> k) -> k.get(0))
                    .thenComparing(k -> k.get(1)));
            for (var route : span[1].routes().entrySet()) {
                RouteKey key = route.getKey();
                if (key.dstService().isEmpty()) {
                    continue;
                }
                RoutePoint before = span[0].routes().getOrDefault(key, new RoutePoint(0, 0, new TreeMap<>()));
                double[] c = byService.computeIfAbsent(java.util.List.of(key.dstNamespace(), key.dstService()), k -> new double[2]);
                c[0] += delta(route.getValue().requests(), before.requests());
                c[1] += delta(route.getValue().successes(), before.successes());
            }
            byService.forEach((service, c) -> {
                if (c[0] > 0) {
                    calls.add(new ServiceCalls(pod, service.get(0), service.get(1), c[0], c[1], seconds));
                }
            });
        }
        return calls;
    }

    /** The notAfter of {@code pod}'s proxy certificate as last scraped, if it reported one. */
    public java.util.Optional<Instant> certificateExpiry(String pod) {
        Deque<Point> points = byPod.get(pod);
        if (points == null) {
            return java.util.Optional.empty();
        }
        synchronized (points) {
            Point last = points.peekLast();
            return last == null || last.certificateExpiry() <= 0 ? java.util.Optional.empty()
                    : java.util.Optional.of(Instant.ofEpochMilli((long) (last.certificateExpiry() * 1000)));
        }
    }

    /** The oldest point of {@code pod} within the window and its newest, or null. */
    private Point[] span(String pod, Duration window, Instant now) {
        Deque<Point> points = byPod.get(pod);
        if (points == null) {
            return null;
        }
        synchronized (points) {
            if (points.isEmpty()) {
                return null;
            }
            Point last = points.peekLast();
            Point first = points.stream().filter(p -> !p.at().isBefore(now.minus(window))).findFirst().orElse(last);
            return new Point[] {first, last};
        }
    }

    private static double delta(double last, double first) {
        return last >= first ? last - first : last;
    }

    /** Linear interpolation inside the bucket holding the quantile, as Prometheus's histogram_quantile. */
    static Double quantile(TreeMap<Double, Double> cumulative, double q) {
        if (cumulative.isEmpty()) {
            return null;
        }
        double total = cumulative.lastEntry().getValue();
        if (total <= 0) {
            return null;
        }
        double rank = q * total;
        double lowerBound = 0;
        double lowerCount = 0;
        for (Map.Entry<Double, Double> bucket : cumulative.entrySet()) {
            if (bucket.getValue() >= rank) {
                if (bucket.getKey().isInfinite()) {
                    return lowerBound;
                }
                double inBucket = bucket.getValue() - lowerCount;
                double fraction = inBucket <= 0 ? 1 : (rank - lowerCount) / inBucket;
                return lowerBound + (bucket.getKey() - lowerBound) * fraction;
            }
            lowerBound = bucket.getKey();
            lowerCount = bucket.getValue();
        }
        return lowerBound;
    }
}
