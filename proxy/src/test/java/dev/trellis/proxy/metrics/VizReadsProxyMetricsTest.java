package dev.trellis.proxy.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.trellis.core.metrics.Direction;
import dev.trellis.viz.MetricsWindow;
import dev.trellis.viz.StatRow;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The contract between the proxy and viz: what the proxy's metric classes write, exposed as
 * the proxy's {@code /metrics} exposes it, is what viz's {@link MetricsWindow} reads — golden
 * metrics, the client edges and the outbound routes come out with the numbers that went in.
 * A renamed metric or label on either side fails here, not on a dashboard.
 */
class VizReadsProxyMetricsTest {

    private static final String POD = "emojivoto/web-1";
    private static final String WEB = "spiffe://cluster.local/ns/emojivoto/sa/web";
    private static final String VOTE_BOT = "spiffe://cluster.local/ns/emojivoto/sa/vote-bot";
    private static final String EMOJI = "emoji-svc.emojivoto.svc.cluster.local:8080";
    private static final HttpMetrics.Destination EMOJI_SVC = new HttpMetrics.Destination("emojivoto", "emoji-svc");

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final HttpMetrics http = new HttpMetrics(registry);
    private final ProxyMetrics tcp = new ProxyMetrics(registry);
    private final MetricsWindow viz = new MetricsWindow(Duration.ofMinutes(5));
    private final Instant start = Instant.parse("2026-11-28T08:00:00Z");

    private void scrapeAt(Instant at) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
        viz.record(POD, at, out.toString(StandardCharsets.UTF_8));
    }

    private void inbound(int status, long millis, String client) {
        http.request(Direction.INBOUND, "web-svc.emojivoto.svc.cluster.local:80");
        http.inboundFrom(client);
        http.response(Direction.INBOUND, "web-svc.emojivoto.svc.cluster.local:80", status, Duration.ofMillis(millis));
    }

    @Test
    void vizReadsGoldenMetricsEdgesAndRoutesAsTheProxyWroteThem() throws Exception {
        ProxyMetrics.Labels mtls = new ProxyMetrics.Labels(Direction.INBOUND, "", true, VOTE_BOT);
        tcp.opened(mtls);
        inbound(200, 1, VOTE_BOT);
        scrapeAt(start);

        for (int i = 0; i < 18; i++) {
            inbound(200, 4, i < 12 ? VOTE_BOT : WEB);
        }
        inbound(503, 40, WEB);
        inbound(503, 40, WEB);
        for (int i = 0; i < 9; i++) {
            http.response(Direction.OUTBOUND, EMOJI, 200, Optional.of(0), Duration.ofMillis(3));
            http.routeResponse(EMOJI, EMOJI_SVC, "ListAll", "GRPCRoute", 200, Optional.of(0), Duration.ofMillis(3));
        }
        http.routeResponse(EMOJI, EMOJI_SVC, "ListAll", "GRPCRoute", 200, Optional.of(14), Duration.ofMillis(3));
        tcp.closed(mtls, 1000, 2000);
        tcp.opened(mtls);
        scrapeAt(start.plusSeconds(10));

        StatRow row = viz.stat("emojivoto", "Deployment", "web", List.of(POD), 1, Duration.ofMinutes(1), start.plusSeconds(10));
        assertThat(row.rps()).isCloseTo(2.0, within(1e-9));
        assertThat(row.successRate()).isCloseTo(0.9, within(1e-9));
        assertThat(row.latencyP50Ms()).isBetween(3.0, 5.0);
        assertThat(row.latencyP99Ms()).isBetween(30.0, 40.0);
        assertThat(row.tcpConnections()).isEqualTo(1);
        assertThat(row.readBytesPerSecond()).isCloseTo(100.0, within(1e-9));
        assertThat(row.writeBytesPerSecond()).isCloseTo(200.0, within(1e-9));
        assertThat(row.secured()).as("every connection had a mesh identity").isTrue();

        assertThat(viz.edges(List.of(POD), Duration.ofMinutes(1), start.plusSeconds(10)))
                .containsExactlyInAnyOrder(new MetricsWindow.Edge(POD, VOTE_BOT, 12), new MetricsWindow.Edge(POD, WEB, 8));

        List<MetricsWindow.RouteRow> routes = viz.routes(key -> key.dstService().equals("emoji-svc") && key.dstNamespace().equals("emojivoto"),
                Duration.ofMinutes(1), start.plusSeconds(10));
        assertThat(routes).singleElement().satisfies(route -> {
            assertThat(route.authority()).isEqualTo(EMOJI);
            assertThat(route.route()).isEqualTo("ListAll");
            assertThat(route.rps()).isCloseTo(1.0, within(1e-9));
            assertThat(route.successRate()).as("the gRPC failure counts against the route").isCloseTo(0.9, within(1e-9));
        });

        // A call the app made by clusterIP (transparent mode) is the same Service's route to viz.
        http.routeResponse("10.96.0.12:8080", EMOJI_SVC, "ListAll", "GRPCRoute", 200, Optional.of(0), Duration.ofMillis(3));
        scrapeAt(start.plusSeconds(15));
        assertThat(viz.routes(key -> key.dstService().equals("emoji-svc") && key.dstNamespace().equals("emojivoto"), Duration.ofMinutes(1),
                start.plusSeconds(15))).extracting(MetricsWindow.RouteRow::authority).containsExactlyInAnyOrder(EMOJI, "10.96.0.12:8080");

        // A plaintext connection in the window: viz must not call the pod's traffic secured.
        tcp.opened(new ProxyMetrics.Labels(Direction.INBOUND, "", false, null));
        inbound(200, 1, WEB);
        scrapeAt(start.plusSeconds(20));
        assertThat(viz.stat("emojivoto", "Deployment", "web", List.of(POD), 1, Duration.ofMinutes(1), start.plusSeconds(20)).secured()).isFalse();
    }

    @Test
    void vizReadsRefusalsPolicyDenialsCallsByServiceAndTheCertificateAsTheProxyWroteThem() throws Exception {
        dev.trellis.proxy.policy.PolicyMetrics policy = new dev.trellis.proxy.policy.PolicyMetrics(registry);
        tcp.certificateExpires(start.plus(Duration.ofHours(24)));
        http.routeResponse(EMOJI, EMOJI_SVC, "ListAll", "GRPCRoute", 200, Optional.of(0), Duration.ofMillis(3));
        scrapeAt(start);
        for (int i = 0; i < 3; i++) {
            http.refused(Direction.INBOUND, dev.trellis.proxy.errors.ProxyError.POLICY_DENIED);
            policy.http(new dev.trellis.proxy.policy.InboundAuthorizer.Decision(false, "web-http", "", false));
        }
        policy.tcp(new dev.trellis.proxy.policy.InboundAuthorizer.Decision(false, "web-admin", "", false));
        tcp.refused(Direction.INBOUND, "undeclared_port");
        http.refused(Direction.OUTBOUND, dev.trellis.proxy.errors.ProxyError.NO_ENDPOINTS);
        for (int i = 0; i < 10; i++) {
            http.routeResponse(EMOJI, EMOJI_SVC, "ListAll", "GRPCRoute", 200, Optional.of(i < 2 ? 14 : 0), Duration.ofMillis(3));
        }
        scrapeAt(start.plusSeconds(10));

        MetricsWindow.Refusals refusals = viz.refusals(List.of(POD), Duration.ofMinutes(1), start.plusSeconds(10));
        assertThat(refusals.byReason()).as("inbound only").containsOnly(java.util.Map.entry("policy_denied", 3.0), java.util.Map.entry("undeclared_port", 1.0));
        assertThat(refusals.byServer()).containsOnly(java.util.Map.entry("web-http", 3.0), java.util.Map.entry("web-admin", 1.0));
        assertThat(viz.serviceCalls(List.of(POD), Duration.ofMinutes(1), start.plusSeconds(10)))
                .containsExactly(new MetricsWindow.ServiceCalls(POD, "emojivoto", "emoji-svc", 10, 8, 10));
        assertThat(viz.certificateExpiry(POD)).contains(start.plus(Duration.ofHours(24)));
    }

    @Test
    void peerIdentitiesAndAuthoritiesFromTrafficAreBoundedInTheScrape() throws Exception {
        for (int i = 0; i < ProxyMetrics.MAX_PEERS + 100; i++) {
            tcp.opened(new ProxyMetrics.Labels(Direction.INBOUND, "", true, "spiffe://cluster.local/ns/n" + i + "/sa/s"));
        }
        for (int i = 0; i < ProxyMetrics.MAX_AUTHORITIES + 100; i++) {
            http.response(Direction.OUTBOUND, "host-" + i + ":80", 200, Duration.ofMillis(1));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(lines.stream().filter(l -> l.startsWith("tcp_open_total{"))).hasSize(ProxyMetrics.MAX_PEERS + 1)
                .anyMatch(l -> l.contains("peer_id=\"other\""));
        assertThat(lines.stream().filter(l -> l.startsWith("response_total{"))).hasSize(ProxyMetrics.MAX_AUTHORITIES + 1)
                .anyMatch(l -> l.contains("authority=\"other\""));
    }
}
