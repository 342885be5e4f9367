package dev.trellis.viz;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Golden metrics of each workload over time, for the dashboard's charts when there is no
 * Prometheus: three rings per workload, 10-second points for 5 minutes, 1-minute points for an
 * hour and 5-minute points for 6 hours (162 points per workload at most). A coarser point
 * merges the finer ones it spans: requests per second averaged, success rate weighted by
 * requests, each latency quantile the highest of them (an upper bound, said so on the page).
 * Workloads not recorded for 6 hours are forgotten. Thread-safe.
 */
public final class GoldenHistory {

    /** How far back a chart looks. */
    public enum Range {
        FIVE_MINUTES("5m", Duration.ofSeconds(10), 30),
        ONE_HOUR("1h", Duration.ofMinutes(1), 60),
        SIX_HOURS("6h", Duration.ofMinutes(5), 72);

        private final String label;
        private final Duration step;
        private final int points;

        Range(String label, Duration step, int points) {
            this.label = label;
            this.step = step;
            this.points = points;
        }

        public String label() {
            return label;
        }

        public Duration step() {
            return step;
        }

        /** How far back the range reaches: its step times its points. */
        public Duration span() {
            return step.multipliedBy(points);
        }

        /** {@code 5m}, {@code 1h} or {@code 6h}. */
        public static Range parse(String text) {
            for (Range range : values()) {
                if (range.label.equals(text)) {
                    return range;
                }
            }
            throw new IllegalArgumentException("viz: range '" + dev.trellis.core.text.UntrustedText.printable(text, 20) + "' is not 5m, 1h or 6h");
        }
    }

    /** One point of a chart: null rates and latencies where nothing was requested. */
    public record Sample(Instant at, Double successRate, double rps, Double latencyP50Ms, Double latencyP95Ms, Double latencyP99Ms) {

        static Sample of(Instant at, StatRow row) {
            return new Sample(at, row.successRate(), row.rps(), row.latencyP50Ms(), row.latencyP95Ms(), row.latencyP99Ms());
        }

        /** One point standing for {@code samples} (oldest first), stamped with the last one's time. */
        static Sample merge(List<Sample> samples) {
            double rps = 0;
            double requests = 0;
            double successes = 0;
            Double p50 = null;
            Double p95 = null;
            Double p99 = null;
            for (Sample sample : samples) {
                rps += sample.rps();
                if (sample.successRate() != null) {
                    requests += sample.rps();
                    successes += sample.rps() * sample.successRate();
                }
                p50 = max(p50, sample.latencyP50Ms());
                p95 = max(p95, sample.latencyP95Ms());
                p99 = max(p99, sample.latencyP99Ms());
            }
            return new Sample(samples.getLast().at(), requests > 0 ? successes / requests : null, rps / samples.size(), p50, p95, p99);
        }

        private static Double max(Double a, Double b) {
            if (a == null) {
                return b;
            }
            if (b == null) {
                return a;
            }
            return Math.max(a, b);
        }
    }

    private static final class Rings {
        final Map<Range, Deque<Sample>> byRange = new java.util.EnumMap<>(Range.class);
        final List<Sample> pendingMinute = new ArrayList<>();
        final List<Sample> pendingFiveMinutes = new ArrayList<>();
        Instant last = Instant.EPOCH;

        Rings() {
            for (Range range : Range.values()) {
                byRange.put(range, new ArrayDeque<>(range.points));
            }
        }

        void add(Range range, Sample sample) {
            Deque<Sample> ring = byRange.get(range);
            if (ring.size() == range.points) {
                ring.removeFirst();
            }
            ring.addLast(sample);
        }
    }

    private final int maxWorkloads;
    private final ConcurrentHashMap<String, Rings> byWorkload = new ConcurrentHashMap<>();

    /** Keeps history for at most {@code maxWorkloads} workloads; later ones get none until older ones are forgotten. */
    public GoldenHistory(int maxWorkloads) {
        this.maxWorkloads = maxWorkloads;
    }

    /** The finest step: callers record at most this often, a row per workload computed over a window at least this long. */
    public static final Duration STEP = Range.FIVE_MINUTES.step();

    /** Records {@code row} of workload {@code key} at {@code at}; a second record within {@link #STEP} is ignored. */
    public void record(String key, Instant at, StatRow row) {
        Rings rings = byWorkload.get(key);
        if (rings == null) {
            if (byWorkload.size() >= maxWorkloads) {
                return;
            }
            rings = byWorkload.computeIfAbsent(key, k -> new Rings());
        }
        synchronized (rings) {
            if (Duration.between(rings.last, at).compareTo(STEP.minusMillis(500)) < 0) {
                return;
            }
            rings.last = at;
            Sample sample = Sample.of(at, row);
            rings.add(Range.FIVE_MINUTES, sample);
            rings.pendingMinute.add(sample);
            if (rings.pendingMinute.size() == 6) {
                Sample minute = Sample.merge(rings.pendingMinute);
                rings.pendingMinute.clear();
                rings.add(Range.ONE_HOUR, minute);
                rings.pendingFiveMinutes.add(minute);
                if (rings.pendingFiveMinutes.size() == 5) {
                    rings.add(Range.SIX_HOURS, Sample.merge(rings.pendingFiveMinutes));
                    rings.pendingFiveMinutes.clear();
                }
            }
        }
    }

    /** The points of workload {@code key} over {@code range}, oldest first (empty when none were recorded). */
    public List<Sample> samples(String key, Range range) {
        Rings rings = byWorkload.get(key);
        if (rings == null) {
            return List.of();
        }
        synchronized (rings) {
            return List.copyOf(rings.byRange.get(range));
        }
    }

    /** Forgets workloads not recorded since {@code now} minus 6 hours. */
    public void expire(Instant now) {
        Instant horizon = now.minus(Duration.ofHours(6));
        byWorkload.entrySet().removeIf(e -> {
            synchronized (e.getValue()) {
                return e.getValue().last.isBefore(horizon);
            }
        });
    }
}
