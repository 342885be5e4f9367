package dev.trellis.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.metrics.Direction;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The authority's and the route's response counters say the same thing about one response. */
class HttpMetricsTest {

    @Test
    void aFailedGrpcCallIsStatus200AndAFailureInBothCounters() throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        HttpMetrics metrics = new HttpMetrics(registry);
        metrics.response(Direction.OUTBOUND, "emoji:8080", 200, Optional.of(14), Duration.ofMillis(3));
        metrics.routeResponse("emoji:8080", new HttpMetrics.Destination("emojivoto", "emoji-svc"), "[default]", "", 200, Optional.of(14), Duration.ofMillis(3));
        String text = scrape(registry);
        assertThat(text)
                .contains("response_total{authority=\"emoji:8080\",classification=\"failure\",direction=\"outbound\",status_code=\"200\"} 1.0")
                .contains("route_response_total{authority=\"emoji:8080\",classification=\"failure\",direction=\"outbound\",dst_namespace=\"emojivoto\",dst_service=\"emoji-svc\",rt_route=\"[default]\",rt_route_kind=\"\",status_code=\"200\"} 1.0");
    }

    @Test
    void aServerErrorIsAFailureAndAnythingElseASuccess() throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        HttpMetrics metrics = new HttpMetrics(registry);
        metrics.routeResponse("web:80", HttpMetrics.Destination.UNKNOWN, "get-page", "", 503, Optional.empty(), Duration.ofMillis(1));
        metrics.routeResponse("web:80", HttpMetrics.Destination.UNKNOWN, "get-page", "", 404, Optional.empty(), Duration.ofMillis(1));
        metrics.routeResponse("web:80", HttpMetrics.Destination.UNKNOWN, "get-page", "", 200, Optional.of(0), Duration.ofMillis(1));
        assertThat(scrape(registry))
                .contains("rt_route=\"get-page\",rt_route_kind=\"\",status_code=\"503\"} 1.0")
                .contains("classification=\"success\",direction=\"outbound\",dst_namespace=\"\",dst_service=\"\",rt_route=\"get-page\",rt_route_kind=\"\",status_code=\"404\"} 1.0")
                .contains("classification=\"success\",direction=\"outbound\",dst_namespace=\"\",dst_service=\"\",rt_route=\"get-page\",rt_route_kind=\"\",status_code=\"200\"} 1.0")
                .contains("classification=\"failure\",direction=\"outbound\",dst_namespace=\"\",dst_service=\"\",rt_route=\"get-page\",rt_route_kind=\"\",status_code=\"503\"} 1.0");
    }

    private static String scrape(PrometheusRegistry registry) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
        return out.toString(StandardCharsets.UTF_8);
    }
}
