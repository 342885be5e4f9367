package dev.trellis.viz.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The dashboard's pages, scripts and styles: a fixed list of files shipped in the distribution
 * (nothing from another origin, so it works offline and under a strict CSP), read once at start.
 * A name outside the list is not found, whatever it says.
 */
final class Assets {

    /** What a browser without a session may load: the login page needs these and nothing else. */
    static final Set<String> PUBLIC = Set.of("login.js", "dashboard.css", "favicon.svg");

    private static final Map<String, String> TYPES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "login.html", "text/html; charset=utf-8",
            "login.js", "text/javascript; charset=utf-8",
            "dashboard.js", "text/javascript; charset=utf-8",
            "charts.js", "text/javascript; charset=utf-8",
            "dashboard.css", "text/css; charset=utf-8",
            "favicon.svg", "image/svg+xml");

    private final Map<String, WebAnswer> byName = new TreeMap<>();

    Assets() {
        TYPES.forEach((name, type) -> {
            try (InputStream in = Assets.class.getResourceAsStream(name)) {
                if (in == null) {
                    throw new IllegalStateException("dashboard: asset " + name + " is missing from the distribution");
                }
                byName.put(name, new WebAnswer(200, Map.of(), type, in.readAllBytes()));
            } catch (IOException e) {
                throw new UncheckedIOException("dashboard: reading asset " + name, e);
            }
        });
    }

    Optional<WebAnswer> get(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    WebAnswer loginPage() {
        return byName.get("login.html");
    }

    WebAnswer appPage() {
        return byName.get("index.html");
    }
}
