package dev.trellis.viz;

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

    /** What one scrape of one proxy says, summed over authorities (inbound side). */
    record Point(Instant at, double requests, double successes, TreeMap<Double, Double> latencyBuckets, double tcpOpen,
                 double readBytes, double writeBytes, double plaintextConnections) {}

    private final Duration retention;
    private final ConcurrentHashMap<String, Deque<Point>> byPod = new ConcurrentHashMap<>();

    public MetricsWindow(Duration retention) {
        this.retention = retention;
    }

    /** Records a scrape of pod {@code podKey} ({@code namespace/name}) taken at {@code at}. */
    public void record(String podKey, Instant at, String prometheusText) {
        double requests = 0;
        double successes = 0;
        double tcpOpen = 0;
        double read = 0;
        double write = 0;
        double plaintext = 0;
        TreeMap<Double, Double> buckets = new TreeMap<>();
        for (PromText.Sample sample : PromText.parse(prometheusText)) {
            if (!"inbound".equals(sample.label("direction"))) {
                continue;
            }
            switch (sample.name()) {
                case "response_total" -> {
                    requests += sample.value();
                    if ("success".equals(sample.label("classification"))) {
                        successes += sample.value();
                    }
                }
                case "response_latency_ms_bucket" -> {
                    String le = sample.label("le");
                    double bound = le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le);
                    buckets.merge(bound, sample.value(), Double::sum);
                }
                case "tcp_open_connections" -> tcpOpen += sample.value();
                case "tcp_open_total" -> {
                    if (!"true".equals(sample.label("tls"))) {
                        plaintext += sample.value();
                    }
                }
                case "tcp_read_bytes_total" -> read += sample.value();
                case "tcp_write_bytes_total" -> write += sample.value();
                default -> { }
            }
        }
        Deque<Point> points = byPod.computeIfAbsent(podKey, k -> new ArrayDeque<>());
        synchronized (points) {
            points.addLast(new Point(at, requests, successes, buckets, tcpOpen, read, write, plaintext));
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
    public StatRow stat(String namespace, String name, Collection<String> pods, int meshedPods, Duration window, Instant now) {
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
        return new StatRow(namespace, name, meshedPods, pods.size(),
                any ? successes / requests : null,
                seconds > 0 ? requests / seconds : 0,
                any ? quantile(buckets, 0.50) : null, any ? quantile(buckets, 0.95) : null, any ? quantile(buckets, 0.99) : null,
                Math.round(tcpOpen), seconds > 0 ? read / seconds : 0, seconds > 0 ? write / seconds : 0,
                any ? plaintext == 0 : null);
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
