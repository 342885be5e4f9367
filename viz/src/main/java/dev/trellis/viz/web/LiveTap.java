package dev.trellis.viz.web;

import dev.trellis.api.tap.v1.Match;
import dev.trellis.api.tap.v1.TapEvent;
import dev.trellis.cluster.Workloads;
import dev.trellis.core.text.UntrustedText;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import tools.jackson.databind.JsonNode;

/**
 * Live requests as the dashboard shows them: the proxies' tap events (request head, response
 * head, end) joined into one line per request, filtered by status (the proxies filter by path
 * and method themselves). At most {@value #MAX_OPEN} requests wait for their end; beyond, the
 * oldest is let go. Not thread-safe: one per stream, fed under its lock.
 */
final class LiveTap {

    static final int MAX_OPEN = 10_000;

    /** What a live stream shows: a namespace, optionally one workload, a path prefix, a method, a status. */
    record Filter(String namespace, Optional<Workloads.Workload> workload, String pathPrefix, String method, Optional<Integer> status) {

        /** From the page's JSON: {@code {"namespace": …, "kind": …, "name": …, "path": …, "method": …, "status": …}}. */
        static Filter parse(JsonNode json) {
            String namespace = text(json, "namespace", 253);
            if (namespace.isEmpty()) {
                throw new IllegalArgumentException("a namespace is required");
            }
            String name = text(json, "name", 253);
            String kind = text(json, "kind", 20);
            Optional<Workloads.Workload> workload = Optional.empty();
            if (!name.isEmpty()) {
                String k = kind.isEmpty() ? Workloads.Workload.DEPLOYMENT : kind;
                if (!Workloads.Workload.KINDS.contains(k)) {
                    throw new IllegalArgumentException("kind '" + UntrustedText.printable(k, 20) + "' is not one of " + Workloads.Workload.KINDS);
                }
                workload = Optional.of(new Workloads.Workload(k, name));
            }
            String path = text(json, "path", 1024);
            if (!path.isEmpty() && !path.startsWith("/")) {
                throw new IllegalArgumentException("path must start with /");
            }
            String method = text(json, "method", 16).toUpperCase(java.util.Locale.ROOT);
            if (!method.chars().allMatch(c -> c >= 'A' && c <= 'Z')) {
                throw new IllegalArgumentException("method must be letters");
            }
            String statusText = text(json, "status", 3);
            Optional<Integer> status = Optional.empty();
            if (!statusText.isEmpty()) {
                try {
                    int value = Integer.parseInt(statusText);
                    if (value < 100 || value > 599) {
                        throw new NumberFormatException();
                    }
                    status = Optional.of(value);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("status must be an HTTP status (100-599)");
                }
            }
            return new Filter(namespace, workload, path, method, status);
        }

        Match match() {
            return Match.newBuilder().setPathPrefix(pathPrefix).setMethod(method).build();
        }

        private static String text(JsonNode json, String field, int max) {
            JsonNode node = json.path(field);
            String value = node.isNumber() || node.isString() ? node.asString() : "";
            if (value.length() > max) {
                throw new IllegalArgumentException(field + " is longer than " + max + " characters");
            }
            return value.strip();
        }
    }

    /** One request seen by a proxy, as a line of the live stream. */
    record Line(String kind, long at, String direction, String src, String dst, String srcIdentity, String dstIdentity, String method,
                String authority, String path, Integer status, Double latencyMs, Integer grpcStatus, String error) {}

    private record Open(long at, TapEvent request, Integer status) {}

    private final Filter filter;
    private final Consumer<Line> out;
    private final Map<String, Open> open = new LinkedHashMap<>(256, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Open> eldest) {
            return size() > MAX_OPEN;
        }
    };

    LiveTap(Filter filter, Consumer<Line> out) {
        this.filter = filter;
        this.out = out;
    }

    /** Takes one tap event; hands a line to the consumer once a request ended and passes the filter. */
    void accept(TapEvent event, long nowMillis) {
        String key = event.getDirection() + " " + event.getSource().getAddress() + " " + event.getDestination().getAddress() + " " + event.getStreamId();
        if (event.hasRequestInit()) {
            open.put(key, new Open(nowMillis, event, null));
            return;
        }
        Open seen = open.get(key);
        if (seen == null) {
            return;
        }
        if (event.hasResponseInit()) {
            open.put(key, new Open(seen.at(), seen.request(), event.getResponseInit().getStatus()));
            return;
        }
        open.remove(key);
        if (filter.status().isPresent() && !filter.status().get().equals(seen.status())) {
            return;
        }
        var init = seen.request().getRequestInit();
        var end = event.getResponseEnd();
        out.accept(new Line("req", seen.at(), event.getDirection() == TapEvent.Direction.OUTBOUND ? "out" : "in",
                event.getSource().getAddress(), event.getDestination().getAddress(), event.getSource().getIdentity(), event.getDestination().getIdentity(),
                init.getMethod(), init.getAuthority(), init.getPath(), seen.status(),
                end.getSinceRequestInit().getSeconds() * 1000.0 + end.getSinceRequestInit().getNanos() / 1e6,
                end.getGrpcStatus(), end.getError().isEmpty() ? null : end.getError()));
    }
}
