package dev.trellis.viz.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.ratelimit.RateLimit;
import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.TestMesh;
import dev.trellis.viz.Viz;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The dashboard's request path without sockets: every guard, the login, sessions and their
 * limits, CSRF and Origin, per-namespace access, each a request in and an answer out.
 */
class DashboardTest {

    private static final String HOST = "127.0.0.1:8084";
    private static final String ORIGIN = "http://127.0.0.1:8084";
    private static final String COOKIE = "trellis-session-8084";

    private final MutableClock clock = new MutableClock(Instant.parse("2026-12-06T10:00:00Z"));
    private final TestMesh mesh = new TestMesh();
    private Viz viz;
    private DashboardConfig config;
    private LoginCodes codes;
    private Dashboard dashboard;
    private InetAddress source;
    private io.prometheus.metrics.model.registry.PrometheusRegistry registry;
    /** Token logins: "good-token" is bob, who may see shop only; anything else is refused. */
    private final Logins logins = token -> {
        if (!token.equals("good-token")) {
            throw new Logins.LoginRefused("dashboard: the API server did not authenticate that token (unknown token)");
        }
        return new Viewer("bob", List.of("dev"), new Viewer.Access() {
            @Override
            public boolean mayView(String namespace) {
                return namespace.equals("shop");
            }

            @Override
            public boolean mayTap(String namespace) {
                return false;
            }
        });
    };

    @BeforeEach
    void start() throws Exception {
        mesh.pod("shop", "web", "web-0", "web", new TestMesh.Traffic(10, 1.0, Map.of()));
        mesh.pod("secret", "vault", "vault-0", "vault", new TestMesh.Traffic(10, 1.0, Map.of()));
        viz = mesh.viz(Clock.systemUTC());
        source = InetAddress.getByName("127.0.0.1");
        build(DashboardConfig.builder().sessions(Duration.ofMinutes(30), Duration.ofHours(12), 3).loginAttempts(new RateLimit(0.001, 5)).build());
    }

    private void build(DashboardConfig newConfig) {
        config = newConfig;
        registry = new io.prometheus.metrics.model.registry.PrometheusRegistry();
        codes = new LoginCodes(config.loginCodeLifetime(), clock);
        dashboard = new Dashboard(config, new Sessions(config, clock), codes, logins, new Assets(),
                new DashboardApi(viz, ControlPlaneStatus.NONE, "cluster.local", clock), new DashboardMetrics(registry), COOKIE);
    }

    @AfterEach
    void stop() {
        viz.close();
    }

    private WebAnswer send(String method, String target, Map<String, String> headers, String body) {
        Map<String, String> all = new HashMap<>();
        all.put("host", HOST);
        all.putAll(headers);
        all.values().removeIf(v -> v == null);
        Dashboard.Outcome outcome = dashboard.handle(WebRequest.of(method, target, all, body.getBytes(StandardCharsets.UTF_8), source));
        assertThat(outcome).isInstanceOf(WebAnswer.class);
        return (WebAnswer) outcome;
    }

    private WebAnswer get(String target, String session) {
        return send("GET", target, session == null ? Map.of() : Map.of("cookie", COOKIE + "=" + session), "");
    }

    private static String body(WebAnswer answer) {
        return new String(answer.body(), StandardCharsets.UTF_8);
    }

    /** Logs in with a fresh code and returns the session cookie's value. */
    private String login(Viewer viewer) {
        WebAnswer answer = send("POST", "/login", Map.of("origin", ORIGIN, "content-type", "application/json"),
                "{\"code\":\"" + codes.mint(viewer) + "\"}");
        assertThat(answer.status()).as(body(answer)).isEqualTo(200);
        String cookie = answer.headers().get("Set-Cookie");
        assertThat(cookie).contains("HttpOnly", "SameSite=Strict", "Path=/").doesNotContain("Secure");
        return cookie.substring(cookie.indexOf('=') + 1, cookie.indexOf(';'));
    }

    private String csrf(String session) {
        String json = body(get("/api/session", session));
        return json.replaceAll(".*\"csrf\":\"([^\"]+)\".*", "$1");
    }

    private static Viewer everything() {
        return new Viewer("alice", List.of(), Viewer.Access.EVERYTHING);
    }

    @Test
    void withoutASessionEveryPageIsTheLoginPageAndTheApiAnswers401() {
        assertThat(body(get("/", null))).contains("id=\"login-page\"");
        assertThat(body(get("/index.html", null))).contains("id=\"login-page\"");
        assertThat(get("/api/namespaces", null).status()).isEqualTo(401);
        assertThat(get("/assets/dashboard.js", null).status()).as("the app's own script").isEqualTo(401);
        assertThat(get("/assets/login.js", null).status()).as("what the login page needs").isEqualTo(200);
        assertThat(get("/api/namespaces", "forged-session-id").status()).isEqualTo(401);
    }

    @Test
    void aLoginCodeIsSpentOnceAndBecomesASession() {
        String code = codes.mint(everything());
        Map<String, String> headers = Map.of("origin", ORIGIN, "content-type", "application/json");
        WebAnswer first = send("POST", "/login", headers, "{\"code\":\"" + code + "\"}");
        assertThat(first.status()).isEqualTo(200);
        assertThat(send("POST", "/login", headers, "{\"code\":\"" + code + "\"}").status()).as("spent").isEqualTo(401);
        String session = first.headers().get("Set-Cookie").replaceAll("^[^=]+=([^;]+);.*", "$1");
        assertThat(get("/api/namespaces", session).status()).isEqualTo(200);
        assertThat(body(get("/", session))).contains("dashboard.js");
        WebAnswer again = get("/login", session);
        assertThat(again.status()).as("logged in already: the app").isEqualTo(303);
        assertThat(again.headers()).containsEntry("Location", "/");
        assertThat(body(get("/login?code=another", session))).as("a new link still shows the login page, which spends it").contains("login-page");
    }

    @Test
    void anExpiredCodeLogsNobodyIn() {
        String code = codes.mint(everything());
        clock.advance(config.loginCodeLifetime().plusSeconds(1));
        assertThat(send("POST", "/login", Map.of("origin", ORIGIN, "content-type", "application/json"), "{\"code\":\"" + code + "\"}").status())
                .isEqualTo(401);
    }

    @Test
    void loginNeedsThisDashboardsOriginAndIsRateLimitedPerSource() {
        String code = codes.mint(everything());
        assertThat(send("POST", "/login", Map.of("content-type", "application/json"), "{\"code\":\"" + code + "\"}").status()).isEqualTo(403);
        assertThat(send("POST", "/login", Map.of("origin", "http://evil.example", "content-type", "application/json"), "{\"code\":\"" + code + "\"}").status())
                .isEqualTo(403);
        assertThat(send("POST", "/login", Map.of("origin", ORIGIN, "sec-fetch-site", "cross-site"), "code=" + code).status()).isEqualTo(403);
        // The refused attempts did not spend the code; a form post works too.
        assertThat(send("POST", "/login", Map.of("origin", ORIGIN), "code=" + code).status()).isEqualTo(200);
        int limited = 0;
        for (int i = 0; i < 10; i++) {
            limited += send("POST", "/login", Map.of("origin", ORIGIN), "code=guess" + i).status() == 429 ? 1 : 0;
        }
        assertThat(limited).as("burst of 5 per source, then 429").isGreaterThanOrEqualTo(5);
    }

    @Test
    void sessionsEndWhenIdleAtTheirAbsoluteLimitAndAtLogout() {
        String idle = login(everything());
        clock.advance(Duration.ofMinutes(31));
        assertThat(get("/api/namespaces", idle).status()).isEqualTo(401);

        String busy = login(everything());
        for (int i = 0; i < 24; i++) {  // 24 x 29 min = 11 h 36 min, never idle 30 min
            clock.advance(Duration.ofMinutes(29));
            assertThat(get("/api/namespaces", busy).status()).isEqualTo(200);
        }
        clock.advance(Duration.ofMinutes(29));
        assertThat(get("/api/namespaces", busy).status()).as("12 h after login, used or not").isEqualTo(401);

        String session = login(everything());
        WebAnswer logout = send("POST", "/logout", Map.of("cookie", COOKIE + "=" + session, "origin", ORIGIN, Dashboard.CSRF_HEADER, csrf(session)), "");
        assertThat(logout.status()).isEqualTo(204);
        assertThat(logout.headers().get("Set-Cookie")).contains("Max-Age=0");
        assertThat(get("/api/namespaces", session).status()).isEqualTo(401);
    }

    @Test
    void liveSessionsAreCapped() {
        for (int i = 0; i < 3; i++) {
            login(everything());
        }
        WebAnswer refused = send("POST", "/login", Map.of("origin", ORIGIN), "code=" + codes.mint(everything()));
        assertThat(refused.status()).isEqualTo(503);
        assertThat(body(refused)).contains("3 sessions are live");
    }

    @Test
    void aPostWithoutTheCsrfTokenOrFromAnotherOriginChangesNothing() {
        String session = login(everything());
        String cookie = COOKIE + "=" + session;
        assertThat(send("POST", "/logout", Map.of("cookie", cookie, "origin", ORIGIN), "").status()).isEqualTo(403);
        assertThat(send("POST", "/logout", Map.of("cookie", cookie, "origin", ORIGIN, Dashboard.CSRF_HEADER, "wrong"), "").status()).isEqualTo(403);
        assertThat(send("POST", "/logout", Map.of("cookie", cookie, Dashboard.CSRF_HEADER, csrf(session)), "").status()).isEqualTo(403);
        assertThat(send("POST", "/logout", Map.of("cookie", cookie, "origin", "http://127.0.0.1:9999", Dashboard.CSRF_HEADER, csrf(session)), "").status())
                .as("another port is another origin").isEqualTo(403);
        assertThat(send("POST", "/api/live", Map.of("cookie", cookie, "origin", "http://evil.example", Dashboard.CSRF_HEADER, csrf(session)),
                "{\"namespace\":\"shop\"}").status()).as("the live stream too").isEqualTo(403);
        assertThat(get("/api/namespaces", session).status()).as("still logged in").isEqualTo(200);
    }

    @Test
    void aForeignHostAndMalformedRequestsAreRefusedBeforeAnythingElse() {
        assertThat(send("GET", "/", Map.of("host", "evil.example:8084"), "").status()).isEqualTo(421);
        assertThat(body(send("GET", "/api/namespaces", Map.of("host", "rebind.attacker.test"), ""))).contains("Host 'rebind.attacker.test' is not one");
        Map<String, String> noHost = new HashMap<>();
        noHost.put("host", null);
        assertThat(send("GET", "/", noHost, "").status()).isEqualTo(400);
        assertThat(send("GET", "http://127.0.0.1:8084/", Map.of(), "").status()).isEqualTo(400);
        assertThat(send("PUT", "/", Map.of(), "").status()).isEqualTo(405);
        assertThat(send("GET", "/", Map.of(), "body").status()).isEqualTo(400);
        assertThat(send("GET", "/", Map.of("host", "localhost:8084"), "").status()).isEqualTo(200);
        assertThat(send("GET", "/", Map.of("host", "[::1]:8084"), "").status()).isEqualTo(200);
    }

    @Test
    void aViewerSeesOnlyTheNamespacesTheirRightsAllow() {
        Viewer.Access shopOnly = new Viewer.Access() {
            @Override
            public boolean mayView(String namespace) {
                return namespace.equals("shop");
            }

            @Override
            public boolean mayTap(String namespace) {
                return false;
            }
        };
        String session = login(new Viewer("bob", List.of("dev"), shopOnly));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(body(get("/api/namespaces", session))).contains("\"shop\"").doesNotContain("secret"));
        assertThat(body(get("/api/workloads", session))).contains("web").doesNotContain("vault");
        assertThat(get("/api/workloads?namespace=secret", session).status()).isEqualTo(403);
        assertThat(get("/api/topology?namespace=secret", session).status()).isEqualTo(403);
        assertThat(get("/api/workload?namespace=secret&kind=Deployment&name=vault", session).status()).isEqualTo(403);
        assertThat(body(get("/api/control-plane", session))).doesNotContain("vault");
        WebAnswer tap = send("POST", "/api/live", Map.of("cookie", COOKIE + "=" + session, "origin", ORIGIN, Dashboard.CSRF_HEADER, csrf(session)),
                "{\"namespace\":\"shop\"}");
        assertThat(tap.status()).as("may view, may not tap").isEqualTo(403);
    }

    @Test
    void badParametersGetAnErrorThatNamesThem() {
        String session = login(everything());
        assertThat(body(get("/api/workload?namespace=shop&kind=Deployment", session))).contains("?name= is required");
        assertThat(body(get("/api/workload?namespace=shop&kind=Spaceship&name=web", session))).contains("kind 'Spaceship' is not one of");
        assertThat(body(get("/api/workload?namespace=Shop!&kind=Deployment&name=web", session))).contains("is not a Kubernetes name");
        assertThat(body(get("/api/workload?namespace=shop&kind=Deployment&name=web&range=2d", session))).contains("'2d' is not 5m, 1h or 6h");
        assertThat(get("/api/nothing", session).status()).isEqualTo(400);
        assertThat(get("/nothing", session).status()).isEqualTo(404);
        assertThat(get("/assets/../../etc/passwd", session).status()).isEqualTo(404);
        WebAnswer badFilter = send("POST", "/api/live", Map.of("cookie", COOKIE + "=" + session, "origin", ORIGIN, Dashboard.CSRF_HEADER, csrf(session)),
                "{\"namespace\":\"shop\",\"status\":\"abc\"}");
        assertThat(badFilter.status()).isEqualTo(400);
        assertThat(body(badFilter)).contains("status must be an HTTP status");
    }

    @Test
    void aUsersOwnTokenBuysALoginLinkForThatUserAndNoOneElse() {
        WebAnswer refused = send("POST", "/login/token", Map.of("authorization", "Bearer stolen"), "");
        assertThat(refused.status()).isEqualTo(401);
        assertThat(body(refused)).contains("did not authenticate that token");
        assertThat(send("POST", "/login/token", Map.of(), "").status()).as("no token").isEqualTo(401);
        assertThat(send("POST", "/login/token", Map.of("authorization", "Bearer good-token", "origin", "http://evil.example"), "").status())
                .as("not from another site's page").isEqualTo(403);
        WebAnswer granted = send("POST", "/login/token", Map.of("authorization", "Bearer good-token"), "");
        assertThat(granted.status()).isEqualTo(200);
        String path = body(granted).replaceAll(".*\"path\":\"([^\"]+)\".*", "$1");
        assertThat(path).startsWith("/login?code=");
        WebAnswer login = send("POST", "/login", Map.of("origin", ORIGIN), "code=" + path.substring("/login?code=".length()));
        assertThat(login.status()).isEqualTo(200);
        String session = login.headers().get("Set-Cookie").replaceAll("^[^=]+=([^;]+);.*", "$1");
        assertThat(body(get("/api/session", session))).contains("\"user\":\"bob\"");
        assertThat(get("/api/workloads?namespace=secret", session).status()).as("bob's rights, not more").isEqualTo(403);
    }

    @Test
    void everyRefusalAndLoginIsCounted() {
        send("GET", "/", Map.of("host", "evil.example"), "");
        get("/api/namespaces", null);
        login(everything());
        String text = registry.scrape().stream().map(snapshot -> snapshot.getMetadata().getName() + " "
                + snapshot.getDataPoints().stream().map(p -> p.getLabels() + "=" + ((io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot) p).getValue())
                .toList()).collect(java.util.stream.Collectors.joining("\n"));
        assertThat(text).contains("reason=\"host_not_allowed\"}=1.0", "reason=\"no_session\"}=1.0", "how=\"code\"}=1.0");
    }

    @Test
    void behindTlsTheCookieIsSecureAndTheOriginHttps() {
        build(DashboardConfig.builder().secureCookies(true).build());
        assertThat(send("POST", "/login", Map.of("origin", ORIGIN), "code=" + codes.mint(everything())).status()).isEqualTo(403);
        WebAnswer answer = send("POST", "/login", Map.of("origin", "https://127.0.0.1:8084"), "code=" + codes.mint(everything()));
        assertThat(answer.headers().get("Set-Cookie")).contains("; Secure");
    }

    /** A clock tests move by hand. */
    static final class MutableClock extends Clock {
        private volatile Instant now;

        MutableClock(Instant now) {
            this.now = now;
        }

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }
}
