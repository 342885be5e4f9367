package dev.trellis.viz.prometheus;

import static java.util.Objects.requireNonNull;

import dev.trellis.cluster.ObjectKey;
import dev.trellis.viz.Viz;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The proxies' metrics as Prometheus scraped them: one PromQL range selector per round
 * ({@code {job="trellis-proxies"}[LOOKBACK]}) fetches every proxy series' raw samples with
 * the time of the scrape that took them, and each pod's newest scrape becomes the metrics
 * text viz would have scraped itself. So every query viz answers ({@code viz stat/edges/routes},
 * the dashboard) runs unchanged on Prometheus's data, with Prometheus's scrape times. The
 * labels Prometheus adds to a target ({@link #TARGET_LABELS}) are left out of the text.
 */
public final class PrometheusCollector implements Viz.Collector, Viz.HistorySource {

    /** The scrape job the proxies are in. */
    public static final String JOB = dev.trellis.core.metrics.ProxyMetricNames.PROMETHEUS_JOB;
    /** Labels Prometheus adds to every series of a target; the proxy's own are the rest. */
    public static final Set<String> TARGET_LABELS = Set.of("job", "instance", "namespace", "pod", "workload_kind", "workload");
    /** How far back a round looks for each series' newest sample: a few scrape intervals. */
    static final Duration LOOKBACK = Duration.ofSeconds(30);

    private final PrometheusApi prometheus;
    private final Clock clock;
    private final Instant started;

    public PrometheusCollector(PrometheusApi prometheus, Clock clock) {
        this.prometheus = requireNonNull(prometheus, "prometheus");
        this.clock = requireNonNull(clock, "clock");
        this.started = clock.instant();
    }

    @Override
    public void collect(List<Pod> meshedPods, Sink sink) throws InterruptedException {
        List<PrometheusApi.Series> series;
        try {
            series = prometheus.query("{job=\"" + JOB + "\"}[" + LOOKBACK.toSeconds() + "s]", clock.instant());
        } catch (IOException e) {
            meshedPods.forEach(p -> sink.failed(ObjectKey.of(p).toString(), e.getMessage()));
            return;
        }
        Map<String, StringBuilder> texts = new HashMap<>();
        Map<String, Instant> taken = new HashMap<>();
        for (PrometheusApi.Series one : series) {
            String namespace = one.labels().get("namespace");
            String pod = one.labels().get("pod");
            String name = one.labels().get("__name__");
            if (namespace == null || pod == null || name == null || one.samples().isEmpty()) {
                continue;
            }
            String key = namespace + "/" + pod;
            PrometheusApi.Sample newest = one.samples().getLast();
            taken.merge(key, newest.at(), (a, b) -> a.isAfter(b) ? a : b);
            StringBuilder text = texts.computeIfAbsent(key, k -> new StringBuilder());
            text.append(name).append('{');
            boolean first = true;
            for (Map.Entry<String, String> label : one.labels().entrySet()) {
                if (label.getKey().equals("__name__") || TARGET_LABELS.contains(label.getKey())) {
                    continue;
                }
                text.append(first ? "" : ",").append(label.getKey()).append("=\"").append(escape(label.getValue())).append('"');
                first = false;
            }
            text.append("} ").append(format(newest.value())).append('\n');
        }
        for (Pod pod : meshedPods) {
            String key = ObjectKey.of(pod).toString();
            StringBuilder text = texts.get(key);
            if (text == null) {
                if (clock.instant().isBefore(started.plus(LOOKBACK))) {
                    continue;  // Prometheus has not scraped a new pod yet: not a failure until a lookback has passed
                }
                sink.failed(key, "prometheus has no samples of this pod's proxy in the last " + LOOKBACK.toSeconds() + " s (is it a target of job " + JOB + "?)");
            } else {
                sink.metrics(key, taken.get(key), text.toString());
            }
        }
    }

    /**
     * A workload's golden metrics over {@code range} with PromQL over Prometheus's {@code
     * query_range} (the target labels Prometheus keeps per series name the workload): requests
     * per second and success from {@code rate(response_total)}, latency from {@code
     * histogram_quantile} over {@code rate(response_latency_ms_bucket)}, each rate over one step.
     */
    @Override
    public List<dev.trellis.viz.GoldenHistory.Sample> history(String namespace, String kind, String name, dev.trellis.viz.GoldenHistory.Range range)
            throws IOException, InterruptedException {
        String selector = "job=\"" + JOB + "\",direction=\"inbound\",namespace=\"" + escape(namespace) + "\",workload_kind=\"" + escape(kind)
                + "\",workload=\"" + escape(name) + "\"";
        String window = "[" + Math.max(range.step().toSeconds(), 2 * LOOKBACK.toSeconds() / 3) + "s]";
        Instant end = clock.instant();
        Instant start = end.minus(range.span());
        Map<Instant, Double> rps = values(prometheus.queryRange("sum(rate(response_total{" + selector + "}" + window + "))", start, end, range.step()));
        Map<Instant, Double> success = values(prometheus.queryRange("sum(rate(response_total{" + selector + ",classification=\"success\"}" + window
                + ")) / sum(rate(response_total{" + selector + "}" + window + "))", start, end, range.step()));
        List<Map<Instant, Double>> quantiles = new java.util.ArrayList<>();
        for (double q : new double[] {0.5, 0.95, 0.99}) {
            quantiles.add(values(prometheus.queryRange("histogram_quantile(" + q + ", sum by (le) (rate(response_latency_ms_bucket{" + selector + "}" + window
                    + ")))", start, end, range.step())));
        }
        List<dev.trellis.viz.GoldenHistory.Sample> out = new java.util.ArrayList<>();
        for (Map.Entry<Instant, Double> point : new java.util.TreeMap<>(rps).entrySet()) {
            Instant at = point.getKey();
            out.add(new dev.trellis.viz.GoldenHistory.Sample(at, finite(success.get(at)), point.getValue(), finite(quantiles.get(0).get(at)),
                    finite(quantiles.get(1).get(at)), finite(quantiles.get(2).get(at))));
        }
        return out;
    }

    private static Map<Instant, Double> values(List<PrometheusApi.Series> series) {
        Map<Instant, Double> out = new HashMap<>();
        if (!series.isEmpty()) {
            series.getFirst().samples().forEach(s -> out.put(s.at(), s.value()));
        }
        return out;
    }

    private static Double finite(Double value) {
        return value == null || value.isNaN() || value.isInfinite() ? null : value;
    }

    private static String format(double value) {
        if (Double.isNaN(value)) {
            return "NaN";
        }
        if (Double.isInfinite(value)) {
            return value > 0 ? "+Inf" : "-Inf";
        }
        return Double.toString(value);
    }

    private static String escape(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
