package dev.trellis.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trellis.viz.MetricsWindow;
import dev.trellis.viz.StatRow;
import dev.trellis.viz.Viz;
import dev.trellis.viz.prometheus.PrometheusApi;
import dev.trellis.viz.prometheus.PrometheusCollector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo on a real Prometheus (Debian's package; .ci/run installs it): every proxy is a
 * target and up, scraped only through viz's bridge over mTLS (Prometheus has no other way to
 * the proxies), each proxy exposes at most 500 series, Prometheus answers nobody without its
 * password, and viz stat computed from Prometheus's samples matches the proxies' own counters
 * read at the same two moments (within a scrape).
 */
class DemoPrometheusTest {

    private static final List<String> PODS = List.of("emoji-0", "emoji-1", "voting-0", "vote-bot-0", "web-0");

    @TempDir
    Path dir;

    @Test
    void theDemosMetricsComeFromARealPrometheusWithTheProxiesOwnNumbers() throws Exception {
        if (!"true".equals(System.getenv("CI"))) {
            assumeTrue(DemoPrometheus.onPath().isPresent(), "needs prometheus on PATH (Debian's package; .ci/run installs it)");
        }
        try (DemoMesh demo = DemoMesh.start(dir, DemoMesh.Metrics.AUTO)) {
            assertThat(demo.metricsSource()).startsWith("Prometheus http://127.0.0.1:");
            PrometheusApi prometheus = demo.prometheus().orElseThrow();

            Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                Map<String, Double> up = byPod(prometheus.query("up{job=\"" + PrometheusCollector.JOB + "\"}", Instant.now()));
                assertThat(up).containsOnlyKeys(PODS).allSatisfy((pod, value) -> assertThat(value).as(pod + " up").isEqualTo(1.0));
            });
            Map<String, Double> series = byPod(prometheus.query("count by (pod) ({job=\"" + PrometheusCollector.JOB + "\"})", Instant.now()));
            assertThat(series).as("series per proxy under the demo's load").allSatisfy((pod, count) -> assertThat(count).isLessThanOrEqualTo(500));
            System.out.println("series per proxy: " + series);

            HttpResponse<String> anonymous = HttpClient.newHttpClient().send(HttpRequest.newBuilder(prometheus.base().resolve("api/v1/query?query=up")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(anonymous.statusCode()).as("Prometheus wants its password").isEqualTo(401);

            // The proxies' own counters, read on their loopback admin listeners at two moments, give the reference.
            MetricsWindow reference = new MetricsWindow(Duration.ofMinutes(5));
            Instant first = Instant.now();
            readAdmins(demo, reference, first);
            Thread.sleep(20_000);
            Instant second = Instant.now();
            readAdmins(demo, reference, second);
            Thread.sleep(3_000);  // Prometheus's scrape (every 2 s) and viz's read of it (every 2 s) catch up with the second reading

            Map<String, StatRow> fromPrometheus = demo.stat(Viz.Resource.DEPLOY, Duration.ofSeconds(20)).stream()
                    .collect(Collectors.toMap(StatRow::name, r -> r));
            for (String deployment : List.of("web", "voting", "emoji")) {
                List<String> pods = PODS.stream().filter(p -> p.startsWith(deployment + "-")).map(p -> "emojivoto/" + p).toList();
                StatRow own = reference.stat("emojivoto", "Deployment", deployment, pods, pods.size(), Duration.ofSeconds(25), second);
                StatRow viaPrometheus = fromPrometheus.get(deployment);
                assertThat(viaPrometheus.rps()).as(deployment + " rps, Prometheus against the proxies' counters").isCloseTo(own.rps(), within(own.rps() * 0.2));
                assertThat(viaPrometheus.successRate()).as(deployment + " success").isCloseTo(own.successRate(), within(0.05));
            }

            // The charts come from Prometheus too (query_range): points every 10 s with the same rates.
            List<dev.trellis.viz.GoldenHistory.Sample> history = demo.history("voting", dev.trellis.viz.GoldenHistory.Range.FIVE_MINUTES);
            assertThat(history).hasSizeGreaterThanOrEqualTo(2);
            assertThat(history.getLast().rps()).isCloseTo(fromPrometheus.get("voting").rps(), within(fromPrometheus.get("voting").rps() * 0.25));
            assertThat(history.getLast().successRate()).isBetween(0.5, 0.99);
            assertThat(history.getLast().latencyP99Ms()).isPositive();
        }
    }

    private static Map<String, Double> byPod(List<PrometheusApi.Series> series) {
        return series.stream().collect(Collectors.toMap(s -> s.labels().get("pod"), s -> s.samples().getLast().value()));
    }

    private static void readAdmins(DemoMesh demo, MetricsWindow into, Instant at) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (String pod : PODS) {
            var admin = demo.proxyAdmin(pod);
            String text = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.getPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            into.record("emojivoto/" + pod, at, text);
        }
    }
}
