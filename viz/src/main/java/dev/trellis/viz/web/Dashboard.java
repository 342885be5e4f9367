package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.text.UntrustedText;
import dev.trellis.ratelimit.KeyedRateLimiter;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The dashboard's request path, apart from sockets: one method, {@link #handle}, reads top to
 * bottom as the layers a request passes (shape, Host, login, session, Origin and CSRF, route).
 * Whatever it refuses it logs and counts once, here, with the reason and the source. Thread-safe.
 */
final class Dashboard {

    private static final Logger log = LoggerFactory.getLogger(Dashboard.class);

    /** The header the pages send the session's CSRF token in, on every request that changes something. */
    static final String CSRF_HEADER = "x-trellis-csrf";

    /** What handling a request comes to: an answer to write, or a live stream to start. */
    sealed interface Outcome permits WebAnswer, LiveStart {}

    /** A live stream the server runs on the connection: for whom, what it shows. */
    record LiveStart(Sessions.Session session, LiveTap.Filter filter) implements Outcome {}

    private final DashboardConfig config;
    private final RequestGuards guards;
    private final Sessions sessions;
    private final LoginCodes codes;
    private final KeyedRateLimiter<InetAddress> loginAttempts;
    private final Assets assets;
    private final DashboardApi api;
    private final Logins logins;
    private final DashboardMetrics metrics;
    private final String cookieName;
    private final JsonMapper json = JsonMapper.builder().build();

    Dashboard(DashboardConfig config, Sessions sessions, LoginCodes codes, Logins logins, Assets assets, DashboardApi api, DashboardMetrics metrics,
              String cookieName) {
        this.config = requireNonNull(config, "config");
        this.guards = new RequestGuards(config);
        this.sessions = requireNonNull(sessions, "sessions");
        this.codes = requireNonNull(codes, "codes");
        this.loginAttempts = KeyedRateLimiter.create(config.loginAttempts());
        this.assets = requireNonNull(assets, "assets");
        this.api = requireNonNull(api, "api");
        this.logins = requireNonNull(logins, "logins");
        this.metrics = requireNonNull(metrics, "metrics");
        this.cookieName = requireNonNull(cookieName, "cookieName");
    }

    Outcome handle(WebRequest request) {
        // Before anything reads the request: is it one this server answers at all?
        Optional<Refusal> refused = guards.shape(request).or(() -> guards.host(request));
        if (refused.isPresent()) {
            return refuse(request, refused.get(), "-");
        }
        // The CLI trades the user's own token for a one-time link (the user opens it in a browser).
        if (request.path().equals("/login/token") && request.method().equals("POST")) {
            return tokenLogin(request);
        }
        // The login page and what it needs are the only things answered without a session.
        if (request.path().equals("/login")) {
            if (request.method().equals("POST")) {
                return login(request);
            }
            // Already logged in (a second click on a link): the app, not a login page that would spend nothing.
            boolean loggedIn = request.param("code").isEmpty() && request.cookie(cookieName).flatMap(sessions::find).isPresent();
            return loggedIn ? WebAnswer.redirect("/") : assets.loginPage();
        }
        Optional<String> asset = assetName(request.path());
        if (asset.isPresent() && Assets.PUBLIC.contains(asset.get())) {
            return assets.get(asset.get()).orElseThrow();
        }
        Optional<Sessions.Session> found = request.cookie(cookieName).flatMap(sessions::find);
        if (found.isEmpty()) {
            if (request.method().equals("GET") && !request.isApi() && asset.isEmpty()) {
                return assets.loginPage();
            }
            return refuse(request, new Refusal(401, "no_session", "dashboard: log in first: no session (open the link `trellis viz dashboard` prints)"), "-");
        }
        Sessions.Session session = found.get();
        String user = session.viewer.user();
        // Anything that changes state, and the live stream, must come from this dashboard's own pages.
        boolean changes = request.method().equals("POST");
        if (changes) {
            refused = guards.sameOrigin(request).or(() -> guards.csrf(request, session));
            if (refused.isPresent()) {
                return refuse(request, refused.get(), user);
            }
        }
        if (request.path().equals("/logout") && changes) {
            sessions.end(session);
            log.info("dashboard: {} logged out (from {})", user, request.source().getHostAddress());
            return WebAnswer.noContent().withHeader("Set-Cookie", cookieName + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + secure());
        }
        if (request.path().equals("/api/live") && changes) {
            try {
                LiveTap.Filter filter = LiveTap.Filter.parse(json.readTree(request.body()));
                if (!session.viewer.access().mayTap(filter.namespace())) {
                    return refuse(request, new Refusal(403, "tap_forbidden", "dashboard: " + user + " may not watch live requests in namespace "
                            + filter.namespace()), user);
                }
                return new LiveStart(session, filter);
            } catch (IllegalArgumentException | tools.jackson.core.JacksonException e) {
                return refuse(request, new Refusal(400, "bad_filter", "dashboard: live filter: " + e.getMessage()), user);
            }
        }
        if (changes) {
            return refuse(request, new Refusal(404, "not_found", "dashboard: nothing to POST at " + UntrustedText.printable(request.path(), 60)), user);
        }
        if (request.isApi()) {
            try {
                return api.answer(request.path(), request::param, session, sessions.expiry(session));
            } catch (DashboardApi.Forbidden e) {
                return refuse(request, new Refusal(403, "namespace_forbidden", e.getMessage()), user);
            } catch (IllegalArgumentException e) {
                return refuse(request, new Refusal(400, "bad_request", e.getMessage()), user);
            }
        }
        if (asset.isPresent()) {
            return assets.get(asset.get()).map(Outcome.class::cast)
                    .orElseGet(() -> refuse(request, new Refusal(404, "not_found", "dashboard: no asset " + UntrustedText.printable(asset.get(), 40)), user));
        }
        // Every other path is the app: its pages are routes of the one page (#/namespaces …).
        return request.path().equals("/") || request.path().equals("/index.html") ? assets.appPage()
                : refuse(request, new Refusal(404, "not_found", "dashboard: no page " + UntrustedText.printable(request.path(), 60)), user);
    }

    /** Spends a one-time code (JSON {@code {"code": …}} or a form's {@code code=…}) for a session cookie. */
    private Outcome login(WebRequest request) {
        Optional<Refusal> refused = guards.sameOrigin(request).or(() -> overLoginRate(request));
        if (refused.isPresent()) {
            return refuse(request, refused.get(), "-");
        }
        Optional<Viewer> viewer = codes.spend(code(request));
        if (viewer.isEmpty()) {
            return refuse(request, new Refusal(401, "bad_login_code", "dashboard: that login code is unknown, spent or expired; "
                    + "`trellis viz dashboard` prints a new link"), "-");
        }
        Sessions.Started started;
        try {
            started = sessions.start(viewer.get());
        } catch (IllegalStateException e) {
            return refuse(request, new Refusal(503, "too_many_sessions", e.getMessage()), viewer.get().user());
        }
        metrics.loggedIn("code");
        log.info("dashboard: {} logged in from {} (access: {})", viewer.get().user(), request.source().getHostAddress(), viewer.get().access());
        return WebAnswer.json(200, Map.of("user", viewer.get().user()))
                .withHeader("Set-Cookie", cookieName + "=" + started.id() + "; Path=/; Max-Age=" + config.sessionLifetime().toSeconds()
                        + "; HttpOnly; SameSite=Strict" + secure());
    }

    /**
     * {@code POST /login/token} with {@code Authorization: Bearer <the user's token>}: the
     * token is checked ({@link Logins}, a TokenReview on Kubernetes) and a one-time login link
     * for that user is the answer, {@code {"user": …, "path": "/login?code=…"}}. Rate-limited per
     * source as logins are; a browser page of another origin cannot send it (no CORS is answered,
     * and an Origin, when sent, must be this dashboard).
     */
    private Outcome tokenLogin(WebRequest request) {
        Optional<Refusal> refused = (request.header("origin").isPresent() ? guards.sameOrigin(request) : Optional.<Refusal>empty())
                .or(() -> overLoginRate(request));
        if (refused.isPresent()) {
            return refuse(request, refused.get(), "-");
        }
        String authorization = request.header("authorization").orElse("");
        if (!authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return refuse(request, new Refusal(401, "no_token", "dashboard: POST /login/token needs Authorization: Bearer <your token>"), "-");
        }
        Viewer viewer;
        try {
            viewer = logins.authenticate(authorization.substring(7).strip());
        } catch (Logins.LoginRefused e) {
            return refuse(request, new Refusal(401, "token_refused", e.getMessage()), "-");
        }
        String code;
        try {
            code = codes.mint(viewer);
        } catch (IllegalStateException e) {
            return refuse(request, new Refusal(503, "too_many_codes", e.getMessage()), viewer.user());
        }
        metrics.loggedIn("token");
        log.info("dashboard: {} (groups {}) got a login link for their token, from {}", viewer.user(), viewer.groups(), request.source().getHostAddress());
        return WebAnswer.json(200, Map.of("user", viewer.user(), "path", "/login?code=" + code));
    }

    /** Logins of either kind share one budget per source address: guessing codes and trying tokens cost the same. */
    private Optional<Refusal> overLoginRate(WebRequest request) {
        return loginAttempts.tryAcquire(request.source()).isZero() ? Optional.empty()
                : Optional.of(new Refusal(429, "login_rate_limited", "dashboard: too many login attempts from " + request.source().getHostAddress()
                        + "; wait a moment"));
    }

    private String code(WebRequest request) {
        String body = new String(request.body(), StandardCharsets.UTF_8);
        if (request.header("content-type").orElse("").startsWith("application/json")) {
            try {
                JsonNode node = json.readTree(body);
                return node.path("code").asString("");
            } catch (tools.jackson.core.JacksonException e) {
                return "";
            }
        }
        return WebRequest.parameters(body).getOrDefault("code", "");
    }

    private String secure() {
        return config.secureCookies() ? "; Secure" : "";
    }

    private static Optional<String> assetName(String path) {
        return path.startsWith("/assets/") ? Optional.of(path.substring("/assets/".length())) : Optional.empty();
    }

    private WebAnswer refuse(WebRequest request, Refusal refusal, String user) {
        metrics.refused(refusal.reason());
        log.warn("dashboard: refused {} {} from {} (user {}): {} ({})", request.method(), UntrustedText.printable(request.path(), 80),
                request.source().getHostAddress(), user, refusal.message(), refusal.reason());
        return refusal.answer(request);
    }
}
