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
            Process viz = new ProcessBuilder(TrellisProcesses.java(List.of("dev.trellis.cli.Main", "viz", "serve",
                    "--trust-anchor", env.get("TRELLIS_TRUST_ANCHOR"), "--identity-addr", env.get("TRELLIS_IDENTITY_ADDR"),
                    "--token-file", env.get("TRELLIS_TOKENS") + "/trellis-trellis-viz.token", "--local", env.get("TRELLIS_STATE"),
                    "--api-file", api.toString(), "--scrape-interval", "1s", "--admin", "127.0.0.1:0")))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("viz.log").toFile()).start();
            try {
                Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(api));
                assertThat(Files.getPosixFilePermissions(api)).containsExactlyInAnyOrder(
                        java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
                Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                        assertThat(run("viz", "stat", "--api-file", api.toString())).containsPattern("voting\\s+1/1\\s+[0-9]{2}\\.[0-9]{2}%"));
                assertThat(run("viz", "edges", "--api-file", api.toString())).contains("sa/web", "sa/voting");
            } finally {
                viz.destroy();
                viz.waitFor();
            }
        }
    }

    private static String run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return out + err.toString();
    }
}
