package dev.trellis.e2e;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A real Chromium, headless, driven over the W3C WebDriver protocol through Debian's
 * {@code chromedriver} (no Selenium: the protocol is a handful of JSON calls). One browser
 * profile per instance, in a directory of its own; {@link #close} ends the session, the
 * driver and the browser.
 */
final class Chromium implements AutoCloseable {

    static final Path DRIVER = Path.of("/usr/bin/chromedriver");
    static final Path BROWSER = Path.of("/usr/bin/chromium");

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Process driver;
    private final URI base;
    private final String session;
    private final Path profile;

    static boolean available() {
        return Files.isExecutable(DRIVER) && Files.isExecutable(BROWSER);
    }

    Chromium() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        profile = Files.createTempDirectory("trellis-chromium-");
        driver = new ProcessBuilder(DRIVER.toString(), "--port=" + port, "--allowed-ips=127.0.0.1")
                .redirectErrorStream(true).redirectOutput(profile.resolve("chromedriver.log").toFile()).start();
        base = URI.create("http://127.0.0.1:" + port + "/");
        long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                if (call("GET", "status", null).path("value").path("ready").asBoolean(false)) {
                    break;
                }
            } catch (IOException e) {
                // not listening yet
            }
            if (System.nanoTime() > until) {
                driver.destroyForcibly();
                throw new IllegalStateException("chromedriver did not become ready in 20 s; see " + profile.resolve("chromedriver.log"));
            }
            Thread.sleep(100);
        }
        List<String> args = new ArrayList<>(List.of("--headless=new", "--disable-gpu", "--window-size=1400,1000", "--no-first-run",
                "--user-data-dir=" + profile.resolve("profile")));
        if ("root".equals(System.getProperty("user.name"))) {
            args.add("--no-sandbox");  // Chromium's sandbox refuses to run as root (CI runs as root)
        }
        JsonNode created = call("POST", "session", Map.of("capabilities", Map.of("alwaysMatch", Map.of(
                "browserName", "chrome",
                "goog:chromeOptions", Map.of("binary", BROWSER.toString(), "args", args),
                "goog:loggingPrefs", Map.of("browser", "ALL")))));
        session = created.path("value").path("sessionId").asString();
        if (session.isEmpty()) {
            driver.destroyForcibly();
            throw new IllegalStateException("chromedriver made no session: " + created);
        }
    }

    void open(String url) throws Exception {
        call("POST", "session/" + session + "/url", Map.of("url", url));
    }

    String currentUrl() throws Exception {
        return call("GET", "session/" + session + "/url", null).path("value").asString();
    }

    /** Runs {@code script} in the page (its {@code return} value comes back as JSON). */
    JsonNode script(String script, Object... args) throws Exception {
        return call("POST", "session/" + session + "/execute/sync", Map.of("script", script, "args", List.of(args))).path("value");
    }

    /** The text of the first element {@code css} selects, or null when there is none. */
    String text(String css) throws Exception {
        JsonNode value = script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css);
        return value.isNull() ? null : value.asString();
    }

    int count(String css) throws Exception {
        return script("return document.querySelectorAll(arguments[0]).length;", css).asInt();
    }

    void click(String css) throws Exception {
        String id = call("POST", "session/" + session + "/element", Map.of("using", "css selector", "value", css))
                .path("value").properties().iterator().next().getValue().asString();
        call("POST", "session/" + session + "/element/" + id + "/click", Map.of());
    }

    void screenshot(Path file) throws Exception {
        String png = call("GET", "session/" + session + "/screenshot", null).path("value").asString();
        Files.createDirectories(file.getParent());
        Files.write(file, Base64.getDecoder().decode(png));
    }

    /** The browser console's messages since the last call (CSP violations show here). */
    List<String> consoleMessages() throws Exception {
        List<String> out = new ArrayList<>();
        for (JsonNode entry : call("POST", "session/" + session + "/se/log", Map.of("type", "browser")).path("value")) {
            out.add(entry.path("level").asString() + " " + entry.path("message").asString());
        }
        return out;
    }

    /** The value of cookie {@code name} for the current page (HttpOnly ones too). */
    String cookie(String name) throws Exception {
        return call("GET", "session/" + session + "/cookie/" + name, null).path("value").path("value").asString();
    }

    private JsonNode call(String method, String path, Object body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60));
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).header("Content-Type", "application/json");
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = JSON.readTree(response.body());
        if (response.statusCode() != 200) {
            throw new IOException("webdriver " + method + " " + path + ": " + response.statusCode() + " " + json.path("value").path("message").asString(response.body()));
        }
        return json;
    }

    @Override
    public void close() throws Exception {
        try {
            if (session != null) {
                call("DELETE", "session/" + session, null);
            }
        } catch (IOException e) {
            // the driver goes anyway
        } finally {
            driver.destroy();
            if (!driver.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                driver.destroyForcibly();
            }
        }
    }
}
