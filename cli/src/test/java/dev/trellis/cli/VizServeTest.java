package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.demo.DemoMesh;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `trellis viz serve` as its own process, against a running mesh (the demo's, through its control-plane file). */
class VizServeTest {

    @TempDir
    Path dir;

    @Test
    void aStandaloneMetricsApiSeesTheMesh() throws Exception {
        try (DemoMesh demo = DemoMesh.start(dir.resolve("demo"))) {
            Map<String, String> env = Files.readAllLines(dir.resolve("demo/control-plane.env")).stream().filter(l -> l.contains("="))
                    .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1)));
            Path api = dir.resolve("viz-api");
            Path bridgeToken = dir.resolve("bridge-token");
            Files.writeString(bridgeToken, "b".repeat(40));
            Process viz = new ProcessBuilder(TrellisProcesses.java(List.of("dev.trellis.cli.Main", "viz", "serve",
                    "--trust-anchor", env.get("TRELLIS_TRUST_ANCHOR"), "--identity-addr", env.get("TRELLIS_IDENTITY_ADDR"),
                    "--token-file", env.get("TRELLIS_TOKENS") + "/trellis-trellis-viz.token", "--local", env.get("TRELLIS_STATE"),
                    "--api-file", api.toString(), "--scrape-interval", "1s", "--admin", "127.0.0.1:0",
                    "--bridge", "127.0.0.1:0", "--bridge-token-file", bridgeToken.toString())))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("viz.log").toFile()).start();
            try {
                Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(api));
                assertThat(Files.getPosixFilePermissions(api)).containsExactlyInAnyOrder(
                        java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
                Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                        assertThat(run("viz", "stat", "--api-file", api.toString())).containsPattern("voting\\s+1/1\\s+[0-9]{2}\\.[0-9]{2}%"));
                assertThat(run("viz", "edges", "--api-file", api.toString())).contains("sa/web", "sa/voting");

                // Its scrape bridge: the targets a Prometheus would scrape, and one proxy's metrics fetched over mTLS.
                String bridge = Files.readAllLines(dir.resolve("viz.log")).stream().filter(l -> l.contains("scrape bridge on "))
                        .map(l -> l.replaceAll(".*scrape bridge on (http://127.0.0.1:[0-9]+/).*", "$1")).findFirst().orElseThrow();
                java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
                var targets = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(bridge + "targets"))
                        .header("Authorization", "Bearer " + "b".repeat(40)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
                assertThat(targets.body()).contains("/proxies/emojivoto/web-0/metrics", "/proxies/emojivoto/voting-0/metrics");
                var metrics = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(bridge + "proxies/emojivoto/voting-0/metrics"))
                        .header("Authorization", "Bearer " + "b".repeat(40)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
                assertThat(metrics.statusCode()).isEqualTo(200);
                assertThat(metrics.body()).contains("response_total{");

                // One query layer: the demo's API (Prometheus when it is on PATH), this one (its own scrapes) and the demo's
                // dashboard give the same numbers for the same minute.
                tools.jackson.databind.json.JsonMapper json = tools.jackson.databind.json.JsonMapper.builder().build();
                Awaitility.await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofSeconds(2)).untilAsserted(() -> {
                    Map<String, Double> standalone = rps(json.readTree(run("viz", "stat", "-o", "json", "--api-file", api.toString())));
                    Map<String, Double> demoApi = rps(json.readTree(run("viz", "stat", "-o", "json", "--api-file", dir.resolve("demo/viz-api").toString())));
                    Map<String, Double> dashboard = rps(json.readTree(dashboardWorkloads(demo, http)));
                    for (String deployment : List.of("web", "voting", "emoji")) {
                        assertThat(standalone.get(deployment)).as(deployment + " has traffic").isPositive();
                        assertThat(demoApi.get(deployment)).as(deployment + ": the demo's API against this one").isCloseTo(standalone.get(deployment),
                                org.assertj.core.data.Percentage.withPercentage(25));
                        assertThat(dashboard.get(deployment)).as(deployment + ": the dashboard against viz stat").isCloseTo(demoApi.get(deployment),
                                org.assertj.core.data.Percentage.withPercentage(10));
                    }
                });
            } finally {
                viz.destroy();
                viz.waitFor();
            }
        }
    }

    private static Map<String, Double> rps(tools.jackson.databind.JsonNode rows) {
        Map<String, Double> out = new java.util.HashMap<>();
        rows.forEach(row -> out.put(row.path("name").asString(), row.path("rps").asDouble()));
        return out;
    }

    /** The dashboard's workloads page as JSON, logged in with a fresh code from the demo's API. */
    private static String dashboardWorkloads(DemoMesh demo, java.net.http.HttpClient http) throws Exception {
        String link = run("viz", "dashboard", "--show", "url", "--api-file", demo.directory().resolve("viz-api").toString()).strip();
        java.net.URI base = demo.dashboardUrl();
        var login = http.send(java.net.http.HttpRequest.newBuilder(base.resolve("/login")).header("Origin", "http://127.0.0.1:" + base.getPort())
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("code=" + link.substring(link.indexOf("code=") + 5))).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(login.statusCode()).as(login.body()).isEqualTo(200);
        String cookie = login.headers().firstValue("Set-Cookie").orElseThrow().replaceAll(";.*", "");
        return http.send(java.net.http.HttpRequest.newBuilder(base.resolve("/api/workloads?namespace=emojivoto")).header("Cookie", cookie).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    private static String run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return out + err.toString();
    }
}
