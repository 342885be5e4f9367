package dev.trellis.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.viz.StatRow;
import dev.trellis.viz.Viz;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo end to end: traffic flows through every proxy, numbers come from the proxies' metrics, policy edits apply live. */
class DemoMeshTest {

    @TempDir
    Path dir;

    @Test
    void theDemoShowsMeshedTrafficAndAPolicyEditDeniesAndRestoresIt() throws Exception {
        try (DemoMesh demo = DemoMesh.start(dir)) {
            Awaitility.await().atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
                Map<String, StatRow> rows = byName(demo.stat(Viz.Resource.DEPLOY, Duration.ofSeconds(20)));
                for (String service : List.of("web", "emoji", "voting")) {
                    assertThat(rows.get(service).rps()).as("%s RPS", service).isGreaterThan(0);
                    assertThat(rows.get(service).meshed()).isEqualTo(service.equals("emoji") ? "2/2" : "1/1");
                    assertThat(rows.get(service).secured()).as("%s secured", service).isTrue();
                }
                assertThat(rows.get("voting").successRate()).isLessThan(1.0).isGreaterThan(0.5);
                assertThat(rows.get("emoji").successRate()).isEqualTo(1.0);
            });
            // Balancing: both emoji replicas serve. Not necessarily in every window of a cold demo: peak-EWMA keeps a replica
            // that answered once slowly (a young JVM's JIT or GC pause) out until its estimate decays — up to ~40 s after one
            // 100 ms answer among 2 ms ones, with the 10 s decay Linkerd and Finagle use — so the window may have to wait.
            Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(2)).untilAsserted(() -> {
                Map<String, StatRow> pods = byName(demo.stat(Viz.Resource.POD, Duration.ofSeconds(20)));
                assertThat(pods.get("emoji-0").rps()).isGreaterThan(0);
                assertThat(pods.get("emoji-1").rps()).isGreaterThan(0);
            });

            // Edges: every call between workloads, with the identities on both ends.
            Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(demo.edges())
                    .extracting(e -> e.src() + "->" + e.dst() + " " + e.clientId() + " " + e.serverId() + " " + e.secured())
                    .contains("vote-bot->web spiffe://cluster.local/ns/emojivoto/sa/vote-bot spiffe://cluster.local/ns/emojivoto/sa/web true",
                            "web->emoji spiffe://cluster.local/ns/emojivoto/sa/web spiffe://cluster.local/ns/emojivoto/sa/emoji true",
                            "web->voting spiffe://cluster.local/ns/emojivoto/sa/web spiffe://cluster.local/ns/emojivoto/sa/voting true"));
            // Routes: the vote bot's calls to web match web-svc's HTTPRoute.
            Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(demo.routes("web-svc"))
                    .anySatisfy(route -> {
                        assertThat(route.route()).isEqualTo("vote");
                        assertThat(route.rps()).isGreaterThan(0);
                    }));
            // The canary: web's calls to emoji-svc follow the GRPCRoute to both versions' Services, a row each.
            Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(demo.routes("emoji-svc"))
                    .filteredOn(route -> route.route().equals("emoji-canary") && route.routeKind().equals("GRPCRoute") && route.rps() > 0)
                    .extracting(route -> route.dstService()).contains("emoji-v1-svc", "emoji-v2-svc"));

            // The metrics API answers the CLI with its token, and nobody without it.
            Map<String, String> api = Files.readAllLines(dir.resolve("viz-api")).stream()
                    .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1)));
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> stat = http.send(HttpRequest.newBuilder(URI.create(api.get("url") + "/api/stat?resource=deploy"))
                    .header("Authorization", "Bearer " + api.get("token")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(stat.statusCode()).isEqualTo(200);
            assertThat(stat.body()).contains("\"name\":\"voting\"");
            assertThat(http.send(HttpRequest.newBuilder(URI.create(api.get("url") + "/api/stat")).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode()).isEqualTo(401);

            // Tap: five live requests to voting, with both identities, from the voting proxy's tap (mTLS, viz identity).
            List<String> tapped = http.send(HttpRequest.newBuilder(URI.create(api.get("url") + "/api/tap?namespace=emojivoto&deploy=voting&max=5&seconds=20"))
                    .header("Authorization", "Bearer " + api.get("token")).build(), HttpResponse.BodyHandlers.ofLines()).body().toList();
            assertThat(tapped.stream().filter(l -> l.contains("\"kind\":\"end\"")).count()).isEqualTo(5);
            assertThat(tapped).allSatisfy(line -> assertThat(line)
                    .contains("\"srcIdentity\":\"spiffe://cluster.local/ns/emojivoto/sa/web\"")
                    .contains("\"dstIdentity\":\"spiffe://cluster.local/ns/emojivoto/sa/voting\""));
            assertThat(tapped).anySatisfy(line -> assertThat(line).contains("\"path\":\"/trellis.demo.v1.VotingService/Vote\""));

            // Deny web -> voting by editing the policy file, then restore it.
            Path policy = demo.stateDirectory().resolve("policy.yaml");
            String allowed = Files.readString(policy);
            Files.writeString(policy, allowed.replace("name: web", "name: nobody"));
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                    assertThat(byName(demo.stat(Viz.Resource.DEPLOY, Duration.ofSeconds(6))).get("voting").successRate()).isEqualTo(0.0));
            String votingMetrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + demo.proxyAdmin("voting-0").getPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(votingMetrics).containsPattern("inbound_http_authz_deny_total\\{srv_name=\"voting-grpc\"} [1-9]");
            Files.writeString(policy, allowed);
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                    assertThat(byName(demo.stat(Viz.Resource.DEPLOY, Duration.ofSeconds(6))).get("voting").successRate()).isGreaterThan(0.5));

            // A second demo on the same directory is refused by name.
            assertThatThrownBy(() -> DemoMesh.start(dir)).hasMessageContaining("another demo is running").hasMessageContaining(dir.toString());
        }
        // Nothing is left listening: the metrics API's port is closed, and the lock is gone.
        assertThat(Files.exists(dir.resolve("demo.lock"))).isFalse();
        String url = Files.readAllLines(dir.resolve("viz-api")).getFirst().substring("url=".length());
        int port = URI.create(url).getPort();
        assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).isInstanceOf(java.net.ConnectException.class);
    }

    @Test
    void inNodeModeEveryWorkloadsProxyRunsOnOneHostAndEachHopIsStillMutualTlsBetweenTheWorkloadsOwnIdentities() throws Exception {
        try (DemoMesh demo = DemoMesh.start(dir, DemoMesh.Metrics.EMBEDDED, dev.trellis.core.settings.ProxyMode.NODE)) {
            assertThat(demo.proxyMode()).isEqualTo(dev.trellis.core.settings.ProxyMode.NODE);
            Awaitility.await().atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
                Map<String, StatRow> rows = byName(demo.stat(Viz.Resource.DEPLOY, Duration.ofSeconds(20)));
                for (String service : List.of("web", "emoji", "voting")) {
                    assertThat(rows.get(service).rps()).as("%s RPS", service).isGreaterThan(0);
                    assertThat(rows.get(service).secured()).as("%s secured", service).isTrue();
                }
            });
            // The edges name both workloads' own identities: hosting shares threads, not identities.
            assertThat(demo.edges()).anySatisfy(edge -> assertThat(edge.toString()).contains("web").contains("voting"));
        }
    }

    private static Map<String, StatRow> byName(List<StatRow> rows) {
        return rows.stream().collect(Collectors.toMap(StatRow::name, r -> r));
    }
}
