package dev.trellis.cluster.routes;

import static dev.trellis.cluster.routes.GatewayRoutes.MAX_RETRIES;
import static dev.trellis.cluster.routes.GatewayRoutes.RETRY_GRPC;
import static dev.trellis.cluster.routes.GatewayRoutes.RETRY_HTTP;
import static dev.trellis.cluster.routes.GatewayRoutes.RETRY_LIMIT;
import static dev.trellis.cluster.routes.GatewayRoutes.RETRY_TIMEOUT;
import static dev.trellis.cluster.routes.GatewayRoutes.annotation;
import static dev.trellis.cluster.routes.GatewayRoutes.duration;
import static dev.trellis.cluster.routes.GatewayRoutes.limit;
import static dev.trellis.cluster.routes.GatewayRoutes.list;

import dev.trellis.cluster.routes.GatewayRoutes.Unusable;
import dev.trellis.cluster.routes.MeshRoute.Retry;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRule;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Retry policies: an HTTPRoute rule's {@code retry} field, or the {@code retry.trellis.dev/*}
 * annotations where the installed Gateway API version has no such field (GRPCRoute). Stateless.
 */
final class RouteRetries {

    /** gRPC status codes by the names Linkerd's annotation uses. */
    private static final Map<String, Integer> GRPC_CODES = Map.ofEntries(Map.entry("cancelled", 1), Map.entry("unknown", 2),
            Map.entry("invalid-argument", 3), Map.entry("deadline-exceeded", 4), Map.entry("not-found", 5), Map.entry("already-exists", 6),
            Map.entry("permission-denied", 7), Map.entry("resource-exhausted", 8), Map.entry("failed-precondition", 9),
            Map.entry("aborted", 10), Map.entry("out-of-range", 11), Map.entry("unimplemented", 12), Map.entry("internal", 13),
            Map.entry("unavailable", 14), Map.entry("data-loss", 15), Map.entry("unauthenticated", 16));

    private RouteRetries() {
    }

    static Retry httpRetry(HTTPRouteRule rule, String at) throws Unusable {
        var retry = rule.getRetry();
        int attempts = retry.getAttempts() == null ? 1 : retry.getAttempts();
        if (attempts < 0 || attempts > MAX_RETRIES) {
            throw Unusable.value(at + ".retry.attempts: " + attempts + " is not within 0-" + MAX_RETRIES);
        }
        Set<Integer> codes = new HashSet<>();
        for (Integer code : list(retry.getCodes())) {
            if (code == null || code < 400 || code > 599) {
                throw Unusable.value(at + ".retry.codes: " + code + " is not a 4xx or 5xx status");
            }
            codes.add(code);
        }
        if (codes.isEmpty()) {
            codes.addAll(List.of(500, 502, 503, 504));
        }
        return new Retry(attempts, codes, Set.of(), Optional.empty());
    }

    /** Retries as the annotations say them, when {@value #RETRY_LIMIT}, {@value #RETRY_HTTP} or {@value #RETRY_GRPC} is set. */
    static Optional<Retry> annotatedRetry(ObjectMeta metadata) throws Unusable {
        String limit = annotation(metadata, RETRY_LIMIT);
        String http = annotation(metadata, RETRY_HTTP);
        String grpc = annotation(metadata, RETRY_GRPC);
        if (limit == null && http == null && grpc == null) {
            return Optional.empty();
        }
        int attempts = 1;
        if (limit != null) {
            try {
                attempts = Integer.parseInt(limit.strip());
            } catch (NumberFormatException e) {
                attempts = -1;
            }
            if (attempts < 0 || attempts > MAX_RETRIES) {
                throw Unusable.value("metadata.annotations[" + RETRY_LIMIT + "]: '" + limit + "' is not a number within 0-" + MAX_RETRIES);
            }
        }
        Set<Integer> statuses = new HashSet<>();
        for (String part : http == null ? new String[0] : http.split(",")) {
            String text = part.strip();
            String at = "metadata.annotations[" + RETRY_HTTP + "]: '" + text + "' ";
            if (text.equals("5xx")) {
                for (int s = 500; s <= 599; s++) {
                    statuses.add(s);
                }
            } else if (text.matches("\\d{3}-\\d{3}")) {
                int low = Integer.parseInt(text.substring(0, 3));
                int high = Integer.parseInt(text.substring(4));
                if (low < 400 || high > 599 || low > high) {
                    throw Unusable.value(at + "is not a range within 400-599");
                }
                for (int s = low; s <= high; s++) {
                    statuses.add(s);
                }
            } else if (text.matches("\\d{3}") && Integer.parseInt(text) >= 400 && Integer.parseInt(text) <= 599) {
                statuses.add(Integer.parseInt(text));
            } else if (!text.isEmpty()) {
                throw Unusable.value(at + "is not 5xx, a 4xx/5xx status or a range such as 500-504");
            }
        }
        Set<Integer> codes = new HashSet<>();
        for (String part : grpc == null ? new String[0] : grpc.split(",")) {
            String text = part.strip().toLowerCase(Locale.ROOT);
            Integer code = GRPC_CODES.get(text);
            if (code == null && !text.isEmpty()) {
                throw Unusable.value("metadata.annotations[" + RETRY_GRPC + "]: '" + text + "' is not a gRPC code (such as unavailable, deadline-exceeded)");
            }
            if (code != null) {
                codes.add(code);
            }
        }
        if (http == null && grpc == null) {
            statuses.addAll(List.of(500, 502, 503, 504));
            codes.add(14);
        }
        Optional<Duration> perTry = duration(annotation(metadata, RETRY_TIMEOUT), "metadata.annotations[" + RETRY_TIMEOUT + "]");
        return Optional.of(new Retry(attempts, statuses, codes, perTry));
    }
}
