package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trellis.demo.DemoMesh;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in a real browser (Debian's chromium and chromedriver, installed by .ci/run)
 * against a real demo: log in through the printed link, every page shows the demo's traffic
 * (voting below 100 %, a chart with points, the web → voting edge, a live request within 10 s),
 * nothing opens without a session, another demo's session opens nothing here, a foreign Host
 * is refused, and the browser reports no CSP violation. Screenshots go to
 * {@code target/dashboard-screenshots} (docs/dashboard.md shows them).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DashboardInBrowserTest {

    private static final Path SHOTS = Path.of("target", "dashboard-screenshots");

    @TempDir
    static Path dirs;

    private DemoMesh demo;
    private DemoMesh other;
    private Chromium browser;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    void start() throws Exception {
        boolean ci = "true".equals(System.getenv("CI"));
        if (!ci) {
            assumeTrue(Chromium.available(), "needs chromium and chromedriver (Debian's packages; .ci/run installs them)");
        }
        demo = DemoMesh.start(dirs.resolve("a"));
        other = DemoMesh.start(dirs.resolve("b"));
        browser = new Chromium();
    }

    @AfterAll
    void stop() throws Exception {
        if (browser != null) {
            browser.close();
        }
        if (other != null) {
            other.close();
        }
        if (demo != null) {
            demo.close();
        }
    }

    @Test
    void theDemosDashboardInABrowser() throws Exception {
        String base = demo.dashboardUrl().toString();

        // Without a session every page is the login page, and the API answers 401.
        browser.open(base + "#/workloads");
        awaitElement("#login-page");
        assertThat(browser.script("return fetch('/api/namespaces').then(r => r.status);").asInt()).isEqualTo(401);
        assertThat(get(base + "assets/dashboard.js", null).statusCode()).as("the app's script needs a session").isEqualTo(401);
        browser.screenshot(SHOTS.resolve("login.png"));
        assertThat(browser.consoleMessages()).as("the 401 just asked for, nothing else").singleElement().asString().contains("401");

        // The printed link logs in; the code becomes a session cookie and is spent.
        browser.open(demo.loginLink().toString());
        awaitElement("#namespaces-table");
        String cookie = sessionCookie();
        Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            browser.open(base + "#/namespaces");
            awaitElement("#namespaces-table tr[data-key='emojivoto']");
            assertThat(browser.text("#namespaces-table tr[data-key='emojivoto'] td:nth-child(3)")).as("voting fails 15 %").matches("[0-9.]+ %").isNotEqualTo("100.0 %");
        });
        browser.screenshot(SHOTS.resolve("namespaces.png"));
        assertThat(post(base + "login", "{\"code\":\"" + codeOf(demo.loginLink()) + "\"}", base).statusCode()).as("the code is spent").isEqualTo(401);

        browser.open(base + "#/workloads/emojivoto");
        awaitElement("#workloads-table tr[data-key='emojivoto']");
        assertThat(browser.script("return [...document.querySelectorAll('#workloads-table td:nth-child(3)')].map(td => td.textContent);").toString())
                .contains("web", "voting", "emoji", "vote-bot");
        browser.screenshot(SHOTS.resolve("workloads.png"));

        // A workload's charts fill as history points arrive (every 10 s).
        Awaitility.await().atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofSeconds(2)).untilAsserted(() -> {
            browser.open(base + "#/workload/emojivoto/Deployment/voting");
            awaitElement("#chart-rps");
            assertThat(browser.script("return Number(document.getElementById('chart-rps').getAttribute('data-points-rps') || 0);").asInt())
                    .isGreaterThanOrEqualTo(2);
        });
        assertThat(browser.count("#inbound-table tbody tr")).as("web calls voting").isGreaterThanOrEqualTo(1);
        browser.screenshot(SHOTS.resolve("workload.png"));

        browser.open(base + "#/topology/emojivoto");
        awaitElement("[data-edge='web->voting']");
        assertThat(browser.count("[data-edge='vote-bot->web']")).isEqualTo(1);
        browser.screenshot(SHOTS.resolve("topology.png"));

        // Live: a request within 10 s, and it stops.
        browser.open(base + "#/live?namespace=emojivoto&name=web");
        awaitElement("#live-toggle");
        browser.click("#live-toggle");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> browser.count("#live-rows tr") > 0);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> browser.count("#top-rows tr") > 0);
        browser.screenshot(SHOTS.resolve("live.png"));
        browser.click("#live-toggle");
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> "stopped".equals(browser.text("#live-stats")));
        int rows = browser.count("#live-rows tr");
        Thread.sleep(1500);
        assertThat(browser.count("#live-rows tr")).as("nothing arrives once stopped").isEqualTo(rows);

        browser.open(base + "#/control-plane");
        awaitElement("#checks-table");
        assertThat(browser.script("return [...document.querySelectorAll('#checks-table tbody tr td:nth-child(2)')].map(td => td.textContent);").toString())
                .doesNotContain("✘");
        assertThat(browser.text("#issuer-expiry")).contains("valid until");
        browser.screenshot(SHOTS.resolve("control-plane.png"));

        assertThat(browser.consoleMessages()).as("no CSP violation, no script error, nothing missing").isEmpty();
        // The check above can fail: an inline script is refused, and the console says so.
        browser.script("const s = document.createElement('script'); s.textContent = 'window.injected = 1'; document.body.appendChild(s); return 0;");
        assertThat(browser.script("return window.injected === undefined;").asBoolean()).as("inline script blocked").isTrue();
        assertThat(browser.consoleMessages()).anyMatch(m -> m.contains("Content Security Policy"));

        // Another demo's dashboard: this browser's session opens nothing there, nor does its cookie under that dashboard's name.
        String otherBase = other.dashboardUrl().toString();
        browser.open(otherBase);
        awaitElement("#login-page");
        String otherCookieName = "trellis-session-" + other.dashboardUrl().getPort();
        assertThat(get(otherBase + "api/namespaces", otherCookieName + "=" + cookie.substring(cookie.indexOf('=') + 1)).statusCode()).isEqualTo(401);

        // Logging out ends the session: its cookie opens nothing any more.
        browser.open(base + "#/namespaces");
        awaitElement("#namespaces-table");
        assertThat(get(base + "api/namespaces", cookie).statusCode()).isEqualTo(200);
        browser.click("#logout");
        awaitElement("#login-page");
        assertThat(get(base + "api/namespaces", cookie).statusCode()).isEqualTo(401);
    }

    @Test
    void everyAnswerCarriesAStrictContentSecurityPolicy() throws Exception {
        for (String path : List.of("", "login", "assets/login.js", "api/namespaces", "nope")) {
            HttpResponse<String> response = get(demo.dashboardUrl() + path, null);
            String csp = response.headers().firstValue("Content-Security-Policy").orElse("");
            assertThat(csp).as(path).contains("script-src 'self'", "frame-ancestors 'none'").doesNotContain("unsafe-inline", "unsafe-eval", "http:", "https:");
            assertThat(response.headers().firstValue("X-Frame-Options")).as(path).contains("DENY");
        }
    }

    @Test
    void aForeignHostIsRefused() throws Exception {
        // DNS rebinding: a page of evil.example whose name resolves to 127.0.0.1 still sends its own Host.
        int port = demo.dashboardUrl().getPort();
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /login HTTP/1.1\r\nHost: evil.example:" + port + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String answer = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            assertThat(answer).startsWith("HTTP/1.1 421").contains("Host 'evil.example' is not one this dashboard answers to");
        }
    }

    private void awaitElement(String css) {
        Awaitility.await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(200)).until(() -> browser.count(css) > 0);
    }

    /** The session cookie, name=value, as the browser holds it (HttpOnly: not visible to scripts). */
    private String sessionCookie() throws Exception {
        String name = "trellis-session-" + demo.dashboardUrl().getPort();
        return name + "=" + browser.cookie(name);
    }

    private static String codeOf(URI link) {
        return link.getQuery().substring("code=".length());
    }

    private HttpResponse<String> get(String url, String cookie) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10));
        if (cookie != null) {
            request.header("Cookie", cookie);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String url, String json, String origin) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).header("Content-Type", "application/json")
                .header("Origin", origin.replaceAll("/$", "")).POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
