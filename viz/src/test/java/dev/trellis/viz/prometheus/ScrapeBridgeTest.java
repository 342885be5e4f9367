package dev.trellis.viz.prometheus;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.net.HostPort;
import dev.trellis.viz.TestMesh;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What Prometheus gets from viz's scrape bridge, and what anyone else does not. */
class ScrapeBridgeTest {

    private static final String TOKEN = "t".repeat(40);

    private final TestMesh mesh = new TestMesh();
    private final HttpClient http = HttpClient.newHttpClient();
    private ScrapeBridge bridge;

    @BeforeEach
    void start() {
        mesh.pod("shop", "web", "web-0", "web", new TestMesh.Traffic(10, 1.0, Map.of()));
        bridge = ScrapeBridge.start(mesh, (proxy, identity) -> identity.serviceAccount().equals("web") ? mesh.scrape(proxy, identity)
                : CompletableFuture.failedFuture(new IllegalStateException("handshake failed")), "cluster.local", new HostPort("127.0.0.1", 0), TOKEN);
    }

    @AfterEach
    void stop() {
        bridge.close();
    }

    private HttpResponse<String> get(String path, String token) throws Exception {
        return get(bridge, path, token);
    }

    private HttpResponse<String> get(ScrapeBridge to, String path, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + to.address().getPort() + path));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void prometheusFindsEveryMeshedPodAndScrapesItThroughTheBridge() throws Exception {
        HttpResponse<String> targets = get("/targets", TOKEN);
        assertThat(targets.statusCode()).isEqualTo(200);
        assertThat(targets.body()).contains("\"__metrics_path__\":\"/proxies/shop/web-0/metrics\"", "\"namespace\":\"shop\"", "\"pod\":\"web-0\"",
                "\"workload_kind\":\"Deployment\"", "\"workload\":\"web\"", "\"targets\":[\"127.0.0.1:" + bridge.address().getPort() + "\"]");
        HttpResponse<String> metrics = get("/proxies/shop/web-0/metrics", TOKEN);
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("response_total{direction=\"inbound\"");
    }

    @Test
    void nobodyElseGetsAnythingAndFailuresSayWhy() throws Exception {
        assertThat(get("/targets", null).statusCode()).isEqualTo(401);
        assertThat(get("/proxies/shop/web-0/metrics", "wrong-" + TOKEN).statusCode()).isEqualTo(401);
        assertThat(get("/proxies/shop/nobody/metrics", TOKEN).statusCode()).isEqualTo(404);
        assertThat(get("/proxies/shop/web-0/../../metrics", TOKEN).statusCode()).isEqualTo(404);
        assertThat(get("/", TOKEN).statusCode()).isEqualTo(404);
        mesh.pod("shop", "db", "db-0", "db", new TestMesh.Traffic(1, 1.0, Map.of()));
        HttpResponse<String> failed = get("/proxies/shop/db-0/metrics", TOKEN);
        assertThat(failed.statusCode()).isEqualTo(502);
        assertThat(failed.body()).contains("as spiffe://cluster.local/ns/shop/sa/db", "handshake failed");
    }

    @Test
    void everyRefusalIsCounted() throws Exception {
        var registry = new io.prometheus.metrics.model.registry.PrometheusRegistry();
        try (ScrapeBridge counted = ScrapeBridge.start(mesh, mesh, "cluster.local", new HostPort("127.0.0.1", 0), TOKEN, registry)) {
            get(counted, "/targets", null);
            get(counted, "/proxies/shop/nobody/metrics", TOKEN);
            get(counted, "/", TOKEN);
            String counts = registry.scrape().stream().flatMap(m -> m.getDataPoints().stream())
                    .map(p -> p.getLabels().get("reason") + "=" + ((io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot) p).getValue())
                    .sorted().toList().toString();
            assertThat(counts).isEqualTo("[no_token=1.0, not_found=1.0, unknown_pod=1.0]");
        }
    }
}
