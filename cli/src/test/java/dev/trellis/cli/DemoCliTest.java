package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `trellis demo` as a user runs it, in its own process, and the viz commands against it. */
class DemoCliTest {

    @TempDir
    Path dir;

    @Test
    void theDemoRunsForItsDurationAndTheVizCommandsSeeIt() throws Exception {
        Path home = dir.resolve("demo");
        Process demo = new ProcessBuilder(TrellisProcesses.java(List.of("dev.trellis.cli.Main", "demo", "--dir", home.toString(),
                "--duration", "30s", "--refresh", "60s")))
                .redirectErrorStream(true).redirectOutput(dir.resolve("demo.log").toFile()).start();
        try {
            Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(dir.resolve("demo.log")).contains("first successful request"));
            String api = home.resolve("viz-api").toString();

            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
                String stat = run("viz", "stat", "-o", "json", "--api-file", api);
                assertThat(stat).contains("\"name\":\"web\"", "\"name\":\"emoji\"", "\"name\":\"voting\"");
                assertThat(run("viz", "stat", "deploy", "voting", "--api-file", api)).containsPattern("voting\\s+1/1\\s+[0-9]{2}\\.[0-9]{2}%");
            });
            assertThat(run("viz", "edges", "--api-file", api)).contains("web          voting");
            // The canary's GRPCRoute, a row per backend; and policy's refusals (none: web may call voting).
            Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                    assertThat(run("viz", "routes", "emoji-svc", "--api-file", api)).contains("emoji-canary").contains("GRPCRoute")
                            .contains("emoji-v1-svc").contains("emoji-v2-svc"));
            assertThat(run("viz", "authz", "--api-file", api)).startsWith("KIND").contains("WOULD_DENY");
            String tap = run("viz", "tap", "deploy/emoji", "--max", "5", "--api-file", api);
            assertThat(tap.lines().filter(l -> l.startsWith("end ")).count()).isEqualTo(5);
            assertThat(tap).contains("src_id=spiffe://cluster.local/ns/emojivoto/sa/web dst_id=spiffe://cluster.local/ns/emojivoto/sa/emoji");

            assertThat(demo.waitFor(60, TimeUnit.SECONDS)).as("the demo ends by itself after --duration").isTrue();
            assertThat(demo.exitValue()).isZero();
            assertThat(Files.readString(dir.resolve("demo.log"))).contains("trellis demo: stopped.");
            int port = URI.create(Files.readAllLines(home.resolve("viz-api")).getFirst().substring("url=".length())).getPort();
            assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).isInstanceOf(java.net.ConnectException.class);
            // Every proxy's listeners are gone too.
            var ports = java.util.regex.Pattern.compile("proxy-(?:inbound|tap)-port: \"(\\d+)\"").matcher(Files.readString(home.resolve("state/emojivoto.yaml")));
            int checked = 0;
            while (ports.find()) {
                int proxyPort = Integer.parseInt(ports.group(1));
                assertThatThrownBy(() -> new Socket("127.0.0.1", proxyPort).close()).as("port %d", proxyPort).isInstanceOf(java.net.ConnectException.class);
                checked++;
            }
            assertThat(checked).isEqualTo(10);
            assertThat(run("viz", "stat", "--api-file", api)).contains("does not answer; is `trellis demo` still running?");
        } finally {
            demo.destroyForcibly();
        }
    }

    private static String run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return out + err.toString();
    }
}
