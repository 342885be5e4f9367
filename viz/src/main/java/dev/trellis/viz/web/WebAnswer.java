package dev.trellis.viz.web;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * An answer of the dashboard before it is written: status, extra headers, content type and
 * body. Every answer also gets {@link #SECURITY_HEADERS} when written.
 */
record WebAnswer(int status, Map<String, String> headers, String contentType, byte[] body) implements Dashboard.Outcome {

    /**
     * The Content-Security-Policy of every answer: scripts, styles, images and fetches from this
     * origin only, no inline script or style, no eval, no framing, no plugins, forms post only here.
     */
    static final String CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
            + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    /** Headers on every answer, pages, API and refusals alike. */
    static final Map<String, String> SECURITY_HEADERS = Map.of(
            "Content-Security-Policy", CONTENT_SECURITY_POLICY,
            "X-Frame-Options", "DENY",
            "X-Content-Type-Options", "nosniff",
            "Referrer-Policy", "no-referrer",
            "Cross-Origin-Opener-Policy", "same-origin",
            "Cross-Origin-Resource-Policy", "same-origin",
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()",
            "Cache-Control", "no-store");

    private static final JsonMapper JSON = JsonMapper.builder().build();

    static WebAnswer json(int status, Object body) {
        return new WebAnswer(status, Map.of(), "application/json", JSON.writeValueAsBytes(body));
    }

    static WebAnswer error(int status, String message) {
        return json(status, Map.of("error", message));
    }

    static WebAnswer noContent() {
        return new WebAnswer(204, Map.of(), "text/plain; charset=utf-8", new byte[0]);
    }

    /** 303 to {@code path} of this dashboard. */
    static WebAnswer redirect(String path) {
        return new WebAnswer(303, Map.of("Location", path), "text/plain; charset=utf-8", new byte[0]);
    }

    static WebAnswer text(int status, String message) {
        return new WebAnswer(status, Map.of(), "text/plain; charset=utf-8", (message + "\n").getBytes(StandardCharsets.UTF_8));
    }

    WebAnswer withHeader(String name, String value) {
        Map<String, String> more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new WebAnswer(status, Map.copyOf(more), contentType, body);
    }
}
