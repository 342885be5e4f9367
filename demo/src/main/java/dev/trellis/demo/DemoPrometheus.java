package dev.trellis.demo;

import dev.trellis.viz.prometheus.PrometheusApi;
import dev.trellis.viz.prometheus.ScrapeJob;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import tools.jackson.databind.json.JsonMapper;

/**
 * A real Prometheus for the demo (Debian's {@code prometheus}, found on PATH): it listens on
 * loopback behind basic auth (user {@value #USER}, a random password in {@code
 * DIR/prometheus/password}, 0600), scrapes every proxy every {@code interval} through viz's
 * scrape bridge (mTLS as the viz identity; the bridge's token in a 0600 file), finds them with
 * {@code http_sd_configs}, and keeps 6 hours. Its files live in {@code DIR/prometheus}; it stops
 * with the demo. The configuration is written as JSON, which Prometheus reads as YAML.
 */
final class DemoPrometheus implements AutoCloseable {

    static final String USER = "viz";
    private static final Duration READY_WITHIN = Duration.ofSeconds(30);

    private final Process process;
    private final PrometheusApi api;
    private final Path dir;

    private DemoPrometheus(Process process, PrometheusApi api, Path dir) {
        this.process = process;
        this.api = api;
        this.dir = dir;
    }

    /** The {@code prometheus} on PATH, if any. */
    static Optional<Path> onPath() {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String entry : path.split(File.pathSeparator)) {
            Path candidate = Path.of(entry, "prometheus");
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /**
     * Starts {@code binary} with its files in {@code dir}, scraping the targets {@code
     * targetsUrl} lists every {@code interval}; returns once it is ready.
     *
     * @throws IOException naming what failed, with the end of its log, when it does not get ready in 30 s
     */
    static DemoPrometheus start(Path binary, Path dir, URI targetsUrl, String bridgeToken, Duration interval, Path log) throws IOException, InterruptedException {
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        SecureRandom random = new SecureRandom();
        byte[] secret = new byte[24];
        random.nextBytes(secret);
        String password = HexFormat.of().formatHex(secret);
        Path tokenFile = secretFile(dir.resolve("bridge-token"), bridgeToken);
        secretFile(dir.resolve("password"), password);
        byte[] salt = new byte[16];
        random.nextBytes(salt);
        JsonMapper json = JsonMapper.builder().build();
        Path webConfig = dir.resolve("web.yml");
        Files.writeString(webConfig, json.writeValueAsString(Map.of("basic_auth_users", Map.of(USER, OpenBSDBCrypt.generate("2y", password.toCharArray(), salt, 10)))));
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, ScrapeJob.config(targetsUrl, tokenFile.toString(), interval));
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Process process = new ProcessBuilder(binary.toString(),
                "--config.file=" + config, "--web.config.file=" + webConfig,
                "--storage.tsdb.path=" + dir.resolve("data"), "--storage.tsdb.retention.time=6h",
                "--web.listen-address=127.0.0.1:" + port, "--log.level=warn")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        PrometheusApi api = new PrometheusApi(URI.create("http://127.0.0.1:" + port + "/"), Optional.of(USER), Optional.of(password));
        long until = System.nanoTime() + READY_WITHIN.toNanos();
        while (!api.ready()) {
            if (!process.isAlive() || System.nanoTime() > until) {
                process.destroyForcibly();
                List<String> lines = Files.exists(log) ? Files.readAllLines(log) : List.of();
                throw new IOException("demo: prometheus (" + binary + ") did not get ready in " + READY_WITHIN.toSeconds() + " s"
                        + (process.isAlive() ? "" : ", it exited with " + process.exitValue()) + "; its log " + log + " ends: "
                        + String.join(" | ", lines.subList(Math.max(0, lines.size() - 3), lines.size())));
            }
            Thread.sleep(100);
        }
        return new DemoPrometheus(process, api, dir);
    }

    PrometheusApi api() {
        return api;
    }

    Path directory() {
        return dir;
    }

    private static Path secretFile(Path file, String secret) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, secret);
        return file;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
