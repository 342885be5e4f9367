package dev.trellis.benchmarks;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed request rate to each of many pods' forward ports at once, the way the demo's traffic
 * reaches each pod (a few tens of requests a second, steadily): {@code rate} GETs per second
 * to every port from {@code first} to {@code first + ports - 1}, for {@code seconds}; prints
 * requests, errors, achieved rate and the latency percentiles of all of them. A port's own
 * latencies can be asked for alone (its p99 next to everyone's).
 *
 * <p>Usage: {@code FixedRateLoad <first-port> <ports> <rate-per-port> <seconds> [<watched-port>]}.
 */
public final class FixedRateLoad {

    private FixedRateLoad() {
    }

    public static void main(String[] args) throws Exception {
        int first = Integer.parseInt(args[0]);
        int ports = Integer.parseInt(args[1]);
        int rate = Integer.parseInt(args[2]);
        int seconds = Integer.parseInt(args[3]);
        int watched = args.length > 4 ? Integer.parseInt(args[4]) : -1;
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
                .executor(Executors.newFixedThreadPool(2)).build();
        int capacity = ports * rate * seconds + 1024;
        AtomicLongArray latencies = new AtomicLongArray(capacity);
        AtomicInteger recorded = new AtomicInteger();
        AtomicLongArray watchedLatencies = new AtomicLongArray(rate * seconds + 1024);
        AtomicInteger watchedRecorded = new AtomicInteger();
        AtomicLong errors = new AtomicLong();
        ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor();
        long periodNanos = 1_000_000_000L / rate;
        long started = System.nanoTime();
        for (int p = 0; p < ports; p++) {
            int port = first + p;
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).timeout(Duration.ofSeconds(10)).build();
            // Spread the ports' ticks over one period, so the load is steady rather than in bursts.
            ticks.scheduleAtFixedRate(() -> {
                long sent = System.nanoTime();
                client.sendAsync(request, HttpResponse.BodyHandlers.discarding()).whenComplete((response, failure) -> {
                    long took = System.nanoTime() - sent;
                    if (failure != null || response.statusCode() != 200) {
                        errors.incrementAndGet();
                        return;
                    }
                    int at = recorded.getAndIncrement();
                    if (at < capacity) {
                        latencies.set(at, took);
                    }
                    if (port == watched) {
                        int w = watchedRecorded.getAndIncrement();
                        if (w < watchedLatencies.length()) {
                            watchedLatencies.set(w, took);
                        }
                    }
                });
            }, periodNanos * p / ports, periodNanos, TimeUnit.NANOSECONDS);
        }
        Thread.sleep(seconds * 1000L);
        ticks.shutdownNow();
        Thread.sleep(1000);
        double elapsed = (System.nanoTime() - started) / 1e9 - 1;
        int n = Math.min(recorded.get(), capacity);
        System.out.printf("requests %d errors %d rate %.0f/s %s%n", n, errors.get(), n / elapsed, percentiles(latencies, n));
        if (watched > 0) {
            System.out.printf("watched %d: %s%n", watched, percentiles(watchedLatencies, Math.min(watchedRecorded.get(), watchedLatencies.length())));
        }
        System.exit(0);
    }

    private static String percentiles(AtomicLongArray values, int n) {
        if (n == 0) {
            return "p50 - p99 -";
        }
        long[] sorted = new long[n];
        for (int i = 0; i < n; i++) {
            sorted[i] = values.get(i);
        }
        Arrays.sort(sorted);
        return String.format("p50 %.2f ms p99 %.2f ms", sorted[n / 2] / 1e6, sorted[Math.min(n - 1, (int) (n * 0.99))] / 1e6);
    }
}
