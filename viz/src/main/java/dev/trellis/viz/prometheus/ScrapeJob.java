package dev.trellis.viz.prometheus;

import dev.trellis.core.metrics.ProxyMetricNames;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * The one Prometheus scrape job that reaches the proxies: job {@value ProxyMetricNames#PROMETHEUS_JOB},
 * its targets from a {@link ScrapeBridge}'s {@code /targets} ({@code http_sd_configs}), every scrape
 * and every target refresh with the bridge's bearer token read from {@code tokenFile}. What the
 * demo's Prometheus, the one {@code trellis install} runs, and the job the demo writes for an
 * existing Prometheus are all configured with. Written as JSON, which Prometheus reads as YAML.
 */
public final class ScrapeJob {

    private ScrapeJob() {
    }

    /** The job alone, for an existing Prometheus's {@code scrape_configs}. */
    public static Map<String, Object> job(URI targetsUrl, String tokenFile, Duration interval) {
        Map<String, Object> bearer = Map.of("type", "Bearer", "credentials_file", tokenFile);
        Map<String, Object> job = new LinkedHashMap<>();
        job.put("job_name", ProxyMetricNames.PROMETHEUS_JOB);
        job.put("scrape_interval", seconds(interval));
        // A scrape may take most of an interval (the bridge fetches over mTLS), never more.
        job.put("scrape_timeout", seconds(Duration.ofSeconds(Math.max(1, interval.toSeconds() - 1))));
        job.put("authorization", bearer);
        job.put("http_sd_configs", List.of(Map.of("url", targetsUrl.toString(), "refresh_interval", seconds(interval), "authorization", bearer)));
        return job;
    }

    /** A whole {@code prometheus.yml} with that job and nothing else. */
    public static String config(URI targetsUrl, String tokenFile, Duration interval) {
        return json(Map.of("global", Map.of("scrape_interval", seconds(interval), "evaluation_interval", seconds(interval)),
                "scrape_configs", List.of(job(targetsUrl, tokenFile, interval))));
    }

    /** The job alone, as text. */
    public static String jobText(URI targetsUrl, String tokenFile, Duration interval) {
        return json(job(targetsUrl, tokenFile, interval));
    }

    private static String json(Object value) {
        return JsonMapper.builder().build().writerWithDefaultPrettyPrinter().writeValueAsString(value);
    }

    private static String seconds(Duration interval) {
        return interval.toSeconds() + "s";
    }
}
