package dev.trellis.viz.web;

import java.net.InetAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * One whole request as the dashboard's layers see it, apart from Netty: method, path, query
 * parameters, header values by lower-case name (the first of each), body and the source
 * address. {@code target} is the raw request target, kept to refuse absolute forms.
 */
record WebRequest(String method, String target, String path, Map<String, String> query, Map<String, String> headers, byte[] body, InetAddress source) {

    /** Splits a request target into path and query; {@code %}-decoding of the path is left to whoever compares it. */
    static WebRequest of(String method, String target, Map<String, String> headers, byte[] body, InetAddress source) {
        int question = target.indexOf('?');
        String path = question < 0 ? target : target.substring(0, question);
        Map<String, String> query = question < 0 ? Map.of() : parameters(target.substring(question + 1));
        return new WebRequest(method, target, path, Map.copyOf(query), Map.copyOf(headers), body, source);
    }

    /** {@code a=1&b=2} (a query, or a form's body) decoded; the first of a repeated name wins, a malformed escape is left out. */
    static Map<String, String> parameters(String encoded) {
        Map<String, String> out = new HashMap<>();
        for (String pair : encoded.split("&")) {
            int eq = pair.indexOf('=');
            try {
                String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                out.putIfAbsent(key, value);
            } catch (IllegalArgumentException e) {
                // a malformed escape: the parameter is left out, and whatever needed it says so
            }
        }
        return out;
    }

    Optional<String> header(String lowerCaseName) {
        return Optional.ofNullable(headers.get(lowerCaseName));
    }

    Optional<String> param(String name) {
        return Optional.ofNullable(query.get(name)).filter(v -> !v.isEmpty());
    }

    /** The value of cookie {@code name}, if the request carries it. */
    Optional<String> cookie(String name) {
        String cookies = headers.get("cookie");
        if (cookies == null) {
            return Optional.empty();
        }
        for (String part : cookies.split(";")) {
            String trimmed = part.strip();
            if (trimmed.startsWith(name + "=")) {
                return Optional.of(trimmed.substring(name.length() + 1));
            }
        }
        return Optional.empty();
    }

    boolean isApi() {
        return path.startsWith("/api/");
    }
}
