package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.text.UntrustedText;
import java.net.URI;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The checks every request passes before anything else looks at it, each a small step with one
 * job, in the order {@link Dashboard} runs them:
 * <ol>
 *   <li>{@link #shape}: a method the dashboard knows, an origin-form target, no body on GET;</li>
 *   <li>{@link #host}: the Host header names this dashboard (DNS rebinding: a page of another
 *       site that resolves its name to 127.0.0.1 still sends its own name);</li>
 *   <li>{@link #sameOrigin}: on every request that changes something, and on the live stream,
 *       an Origin of this dashboard (cross-site requests, and any client that will not say);</li>
 *   <li>{@link #csrf}: the session's CSRF token on those same requests.</li>
 * </ol>
 */
final class RequestGuards {

    private static final Set<String> METHODS = Set.of("GET", "POST");

    private final DashboardConfig config;

    RequestGuards(DashboardConfig config) {
        this.config = requireNonNull(config, "config");
    }

    Optional<Refusal> shape(WebRequest request) {
        if (!METHODS.contains(request.method())) {
            return Optional.of(new Refusal(405, "method_not_allowed", "dashboard: method " + UntrustedText.printable(request.method(), 16)
                    + " is not allowed (GET and POST are)"));
        }
        if (!request.target().startsWith("/")) {
            return Optional.of(new Refusal(400, "bad_target", "dashboard: the request target must be a path, not '"
                    + UntrustedText.printable(request.target(), 60) + "'"));
        }
        if (!request.method().equals("POST") && request.body().length > 0) {
            return Optional.of(new Refusal(400, "unexpected_body", "dashboard: " + request.method() + " carries no body"));
        }
        return Optional.empty();
    }

    Optional<Refusal> host(WebRequest request) {
        Optional<String> host = request.header("host").map(RequestGuards::hostName);
        if (host.isEmpty()) {
            return Optional.of(new Refusal(400, "no_host", "dashboard: the request has no Host header"));
        }
        if (!config.allowsHost(host.get())) {
            return Optional.of(new Refusal(421, "host_not_allowed", "dashboard: Host '" + UntrustedText.printable(host.get(), 60)
                    + "' is not one this dashboard answers to (allowed: " + String.join(", ", config.allowedHosts().stream().sorted().toList())
                    + "; add names with --allow-host)"));
        }
        return Optional.empty();
    }

    /**
     * The request's Origin (and, where the browser says, {@code Sec-Fetch-Site}) must be this
     * dashboard: same scheme, the Host header's name and port.
     */
    Optional<Refusal> sameOrigin(WebRequest request) {
        Optional<String> origin = request.header("origin");
        if (origin.isEmpty()) {
            return Optional.of(new Refusal(403, "origin_missing", "dashboard: " + request.method() + " " + request.path()
                    + " needs an Origin header (browsers send one; scripts must say where they come from)"));
        }
        String expected = (config.secureCookies() ? "https://" : "http://") + request.header("host").orElse("").toLowerCase(Locale.ROOT);
        if (!sameOrigin(origin.get(), expected)) {
            return Optional.of(new Refusal(403, "origin_mismatch", "dashboard: Origin '" + UntrustedText.printable(origin.get(), 80)
                    + "' is not this dashboard (" + expected + ")"));
        }
        Optional<String> site = request.header("sec-fetch-site");
        if (site.isPresent() && !site.get().equals("same-origin")) {
            return Optional.of(new Refusal(403, "cross_site", "dashboard: a " + UntrustedText.printable(site.get(), 20)
                    + " request cannot change anything here"));
        }
        return Optional.empty();
    }

    Optional<Refusal> csrf(WebRequest request, Sessions.Session session) {
        if (!session.csrfMatches(request.header(Dashboard.CSRF_HEADER).orElse(null))) {
            return Optional.of(new Refusal(403, "csrf_token", "dashboard: " + request.method() + " " + request.path() + " needs the session's "
                    + Dashboard.CSRF_HEADER + " header"));
        }
        return Optional.empty();
    }

    private static boolean sameOrigin(String origin, String expected) {
        try {
            URI a = new URI(origin.toLowerCase(Locale.ROOT));
            URI b = new URI(expected);
            return a.getScheme() != null && a.getScheme().equals(b.getScheme()) && a.getHost() != null && a.getHost().equals(b.getHost())
                    && effectivePort(a) == effectivePort(b) && (a.getPath() == null || a.getPath().isEmpty());
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    private static int effectivePort(URI uri) {
        return uri.getPort() >= 0 ? uri.getPort() : uri.getScheme().equals("https") ? 443 : 80;
    }

    /** The name part of a Host header: {@code localhost:8084} is {@code localhost}, {@code [::1]:80} is {@code [::1]}. */
    static String hostName(String host) {
        String trimmed = host.strip();
        if (trimmed.startsWith("[")) {
            int close = trimmed.indexOf(']');
            return close < 0 ? trimmed : trimmed.substring(0, close + 1);
        }
        int colon = trimmed.indexOf(':');
        return colon < 0 ? trimmed : trimmed.substring(0, colon);
    }
}
