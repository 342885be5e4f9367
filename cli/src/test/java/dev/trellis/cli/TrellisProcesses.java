package dev.trellis.cli;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.testing.TestPki;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Command lines for tests that run Trellis roles as real processes, on this test's JDK and class path. */
final class TrellisProcesses {

    private TrellisProcesses() {
    }

    /** A JVM running {@code mainAndArgs}, sized small: tests start several. */
    static List<String> java(List<String> mainAndArgs) {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m",
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"))));
        command.addAll(mainAndArgs);
        return command;
    }

    /**
     * {@code trellis proxy} for {@code workload} against the given control plane, with a
     * freshly minted token and a connection log in {@code dir}; {@code extra} flags follow.
     */
    static List<String> proxy(Path dir, TestPki pki, WorkloadIdentity workload, String identityAddress, String destinationAddress,
                              List<String> extra) throws IOException {
        Path token = dir.resolve(workload.serviceAccount() + ".token");
        Files.writeString(token, LocalTokens.mint(pki.tokenKey().getPrivate(), workload, Duration.ofHours(1), Instant.now()));
        List<String> args = new ArrayList<>(List.of("dev.trellis.cli.Main", "proxy",
                "--identity", workload.spiffeId(),
                "--trust-anchor", pki.trustAnchorFile().toString(),
                "--identity-addr", identityAddress,
                "--token-file", token.toString(),
                "--destination-addr", destinationAddress,
                "--connection-log", dir.resolve(workload.serviceAccount() + "-connections.log").toString()));
        args.addAll(extra);
        return java(args);
    }

    /**
     * Waits until the process's admin {@code /ready} answers 200; fails at once when the process
     * exits (a port taken meanwhile, say), and on either failure with the last lines of its log.
     */
    static void awaitReady(Process process, int adminPort, Path log, Duration limit) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/ready")).timeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("the process exited " + process.exitValue() + " before it was ready; " + tail(log));
            }
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("not ready on admin port " + adminPort + " within " + limit + "; " + tail(log));
    }

    private static String tail(Path log) throws IOException {
        List<String> lines = Files.exists(log) ? Files.readAllLines(log) : List.of();
        return "the last lines of " + log + ":\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    /** A loopback port free a moment ago, for a process that must be told its port. */
    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
