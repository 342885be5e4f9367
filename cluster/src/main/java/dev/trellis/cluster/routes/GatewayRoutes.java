package dev.trellis.cluster.routes;

import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.routes.MeshRoute.Backend;
import dev.trellis.cluster.routes.MeshRoute.Filter;
import dev.trellis.cluster.routes.MeshRoute.Kind;
import dev.trellis.cluster.routes.MeshRoute.Match;
import dev.trellis.cluster.routes.MeshRoute.MatchType;
import dev.trellis.cluster.routes.MeshRoute.PathMatch;
import dev.trellis.cluster.routes.MeshRoute.Retry;
import dev.trellis.cluster.routes.MeshRoute.RouteKey;
import dev.trellis.cluster.routes.MeshRoute.Rule;
import dev.trellis.cluster.routes.MeshRoute.ServiceParent;
import dev.trellis.core.time.DurationText;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCBackendRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPBackendRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReference;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
/**
 * Reads Gateway API {@code HTTPRoute} and {@code GRPCRoute} objects ({@value #GROUP}, as the
 * API server or a manifest gives them) into {@link MeshRoute}s. Parents that are not Services
 * (Gateways) are not ours and are ignored; a route with no Service parent is not a mesh route.
 * A route the mesh cannot carry out whole is {@link Parsed.Rejected} with the Gateway API's
 * reason and a message naming the field, so that its status can say why and the last good
 * version stays in force. The CRDs' own limits are checked here too: a manifest directory has
 * no API server to enforce them. Stateless.
 */
public final class GatewayRoutes {

    public static final String GROUP = "gateway.networking.k8s.io";
    public static final String VERSION = "v1";
    /** TCPRoute's version: the experimental channel's. */
    public static final String TCP_ROUTE_VERSION = "v1alpha2";

    /** Annotations for what the installed Gateway API version cannot say on a route (as Linkerd's {@code retry.linkerd.io/*}). */
    public static final String RETRY_LIMIT = "retry.trellis.dev/limit";
    public static final String RETRY_HTTP = "retry.trellis.dev/http";
    public static final String RETRY_GRPC = "retry.trellis.dev/grpc";
    public static final String RETRY_TIMEOUT = "retry.trellis.dev/timeout";
    public static final String TIMEOUT_REQUEST = "timeout.trellis.dev/request";
    public static final String TIMEOUT_BACKEND_REQUEST = "timeout.trellis.dev/backend-request";

    /** The Gateway API's own bounds (its CRD schema), and ours for retries. */
    static final int MAX_PARENTS = 32;
    static final int MAX_RULES = 16;
    static final int MAX_MATCHES = 64;
    static final int MAX_FILTERS = 16;
    static final int MAX_BACKENDS = 16;
    static final int MAX_CONDITIONS = 16;
    static final int MAX_WEIGHT = 1_000_000;
    static final int MAX_RETRIES = 10;
    static final int MAX_VALUE_LENGTH = 4096;


    private GatewayRoutes() {
    }

    /** What reading one route gave. */
    public sealed interface Parsed {
        /** The route as the mesh carries it out. */
        record Accepted(MeshRoute route) implements Parsed {}

        /**
         * The route cannot be carried out; {@code reason} is the Gateway API's (for example
         * {@code UnsupportedValue}), {@code message} names the field.
         */
        record Rejected(RouteKey key, long generation, List<ServiceParent> parents, String reason, String message) implements Parsed {}

        /** No parent is a Service: the route is a gateway's, not the mesh's. */
        record NotMesh(RouteKey key) implements Parsed {}
    }

    /** A field the mesh cannot carry out, with the Gateway API reason for it. */
    static final class Unusable extends Exception {
        final String reason;

        Unusable(String reason, String message) {
            super(message, null, false, false);
            this.reason = reason;
        }

        static Unusable value(String message) {
            return new Unusable("UnsupportedValue", message);
        }
    }

    /** An HTTPRoute or GRPCRoute of another version than {@value #VERSION}, or a TCPRoute of another than {@value #TCP_ROUTE_VERSION}. */
    public static boolean isUnreadRouteVersion(io.fabric8.kubernetes.api.model.HasMetadata object) {
        String apiVersion = object.getApiVersion();
        if (apiVersion == null || !apiVersion.startsWith(GROUP + "/")) {
            return false;
        }
        return switch (String.valueOf(object.getKind())) {
            case "HTTPRoute", "GRPCRoute" -> !apiVersion.equals(GROUP + "/" + VERSION);
            case "TCPRoute" -> !apiVersion.equals(GROUP + "/" + TCP_ROUTE_VERSION);
            default -> false;
        };
    }

    /** The version a kind is read in. */
    public static String versionOf(Kind kind) {
        return kind == Kind.TCP_ROUTE ? TCP_ROUTE_VERSION : VERSION;
    }

    /** A TCPRoute on a Service: its rules' backends split the Service's opaque connections by weight. */
    public static Parsed parse(io.fabric8.kubernetes.api.model.gatewayapi.v1alpha2.TCPRoute route) {
        RouteKey key = new RouteKey(Kind.TCP_ROUTE, ObjectKey.of(route));
        List<ParentReference> parentRefs = route.getSpec() == null ? null : route.getSpec().getParentRefs();
        return parse(key, route.getMetadata(), parentRefs, () -> {
            var rules = list(route.getSpec().getRules());
            limit(rules, MAX_RULES, "spec.rules");
            List<Rule> out = new ArrayList<>();
            for (int r = 0; r < rules.size(); r++) {
                String at = "spec.rules[" + r + "]";
                var backends = list(rules.get(r).getBackendRefs());
                limit(backends, MAX_BACKENDS, at + ".backendRefs");
                List<Backend> outBackends = new ArrayList<>();
                for (int b = 0; b < backends.size(); b++) {
                    var ref = backends.get(b);
                    outBackends.add(backend(key, ref.getGroup(), ref.getKind(), ref.getName(), ref.getNamespace(), ref.getPort(), ref.getWeight(),
                            at + ".backendRefs[" + b + "]"));
                }
                checkWeights(outBackends, List.of(), at);
                out.add(new Rule(r, Optional.ofNullable(rules.get(r).getName()), List.of(Match.ANY), List.of(), outBackends, Optional.empty(),
                        Optional.empty(), Optional.empty()));
            }
            return out;
        });
    }

    public static Parsed parse(HTTPRoute route) {
        RouteKey key = new RouteKey(Kind.HTTP_ROUTE, ObjectKey.of(route));
        List<ParentReference> parentRefs = route.getSpec() == null ? null : route.getSpec().getParentRefs();
        return parse(key, route.getMetadata(), parentRefs, () -> {
            List<HTTPRouteRule> rules = list(route.getSpec().getRules());
            limit(rules, MAX_RULES, "spec.rules");
            List<Rule> out = new ArrayList<>();
            for (int r = 0; r < rules.size(); r++) {
                out.add(httpRule(key, r, rules.get(r), route.getMetadata()));
            }
            return out;
        });
    }

    public static Parsed parse(GRPCRoute route) {
        RouteKey key = new RouteKey(Kind.GRPC_ROUTE, ObjectKey.of(route));
        List<ParentReference> parentRefs = route.getSpec() == null ? null : route.getSpec().getParentRefs();
        return parse(key, route.getMetadata(), parentRefs, () -> {
            List<GRPCRouteRule> rules = list(route.getSpec().getRules());
            limit(rules, MAX_RULES, "spec.rules");
            List<Rule> out = new ArrayList<>();
            for (int r = 0; r < rules.size(); r++) {
                out.add(grpcRule(key, r, rules.get(r), route.getMetadata()));
            }
            return out;
        });
    }

    private interface RulesReader {
        List<Rule> read() throws Unusable;
    }

    private static Parsed parse(RouteKey key, ObjectMeta metadata, List<ParentReference> parentRefs, RulesReader rules) {
        long generation = metadata.getGeneration() == null ? 0 : metadata.getGeneration();
        List<ServiceParent> parents = new ArrayList<>();
        List<ParentReference> refs = list(parentRefs);
        for (int i = 0; i < refs.size() && i < MAX_PARENTS; i++) {
            ParentReference ref = refs.get(i);
            // The core group is "" (or "core", as GAMMA's examples write it); a manifest not defaulted by an API server may leave it out.
            boolean core = ref.getGroup() == null || ref.getGroup().isEmpty() || ref.getGroup().equals("core");
            String kind = ref.getKind() == null ? "Gateway" : ref.getKind();
            if (core && kind.equals("Service") && ref.getName() != null) {
                String namespace = ref.getNamespace() == null ? key.id().namespace() : ref.getNamespace();
                parents.add(new ServiceParent(i, new ObjectKey(namespace, ref.getName()), Optional.ofNullable(ref.getPort())));
            }
        }
        if (parents.isEmpty()) {
            return new Parsed.NotMesh(key);
        }
        try {
            limit(refs, MAX_PARENTS, "spec.parentRefs");
            for (ServiceParent parent : parents) {
                if (parent.port().isPresent() && (parent.port().get() < 1 || parent.port().get() > 65535)) {
                    throw Unusable.value("spec.parentRefs[" + parent.index() + "].port: " + parent.port().get() + " is not a port (1-65535)");
                }
            }
            List<Rule> read = rules.read();
            return new Parsed.Accepted(new MeshRoute(key, generation, created(metadata), parents, read));
        } catch (Unusable e) {
            return new Parsed.Rejected(key, generation, parents, e.reason, key + ": " + e.getMessage());
        }
    }

    private static Instant created(ObjectMeta metadata) {
        try {
            return metadata.getCreationTimestamp() == null ? Instant.EPOCH : Instant.parse(metadata.getCreationTimestamp());
        } catch (DateTimeParseException e) {
            return Instant.EPOCH;
        }
    }

    private static Rule httpRule(RouteKey key, int index, HTTPRouteRule rule, ObjectMeta metadata) throws Unusable {
        String at = "spec.rules[" + index + "]";
        List<HTTPRouteMatch> matches = list(rule.getMatches());
        limit(matches, MAX_MATCHES, at + ".matches");
        List<Match> outMatches = new ArrayList<>();
        for (int m = 0; m < matches.size(); m++) {
            outMatches.add(RouteMatches.httpMatch(matches.get(m), at + ".matches[" + m + "]"));
        }
        if (outMatches.isEmpty()) {
            outMatches.add(new Match(Optional.of(new PathMatch(MatchType.PREFIX, "/")), Optional.empty(), List.of(), List.of()));
        }
        List<HTTPRouteFilter> filters = list(rule.getFilters());
        limit(filters, MAX_FILTERS, at + ".filters");
        List<Filter> outFilters = new ArrayList<>();
        for (int f = 0; f < filters.size(); f++) {
            outFilters.add(RouteFilters.httpFilter(key, filters.get(f), at + ".filters[" + f + "]"));
        }
        RouteFilters.checkFilterCombination(outFilters, outMatches, at);
        List<HTTPBackendRef> backends = list(rule.getBackendRefs());
        limit(backends, MAX_BACKENDS, at + ".backendRefs");
        List<Backend> outBackends = new ArrayList<>();
        for (int b = 0; b < backends.size(); b++) {
            HTTPBackendRef ref = backends.get(b);
            if (!list(ref.getFilters()).isEmpty()) {
                throw Unusable.value(at + ".backendRefs[" + b + "].filters: filters per backend are not supported; put them on the rule");
            }
            outBackends.add(backend(key, ref.getGroup(), ref.getKind(), ref.getName(), ref.getNamespace(), ref.getPort(), ref.getWeight(),
                    at + ".backendRefs[" + b + "]"));
        }
        checkWeights(outBackends, outFilters, at);
        Optional<Duration> request = Optional.empty();
        Optional<Duration> backend = Optional.empty();
        if (rule.getTimeouts() != null) {
            request = duration(rule.getTimeouts().getRequest(), at + ".timeouts.request");
            backend = duration(rule.getTimeouts().getBackendRequest(), at + ".timeouts.backendRequest");
        }
        if (request.isEmpty()) {
            request = duration(annotation(metadata, TIMEOUT_REQUEST), "metadata.annotations[" + TIMEOUT_REQUEST + "]");
        }
        if (backend.isEmpty()) {
            backend = duration(annotation(metadata, TIMEOUT_BACKEND_REQUEST), "metadata.annotations[" + TIMEOUT_BACKEND_REQUEST + "]");
        }
        if (request.isPresent() && backend.isPresent() && backend.get().compareTo(request.get()) > 0) {
            throw Unusable.value(at + ".timeouts.backendRequest: " + DurationText.format(backend.get()) + " is longer than timeouts.request "
                    + DurationText.format(request.get()));
        }
        Optional<Retry> retry;
        if (rule.getRetry() != null) {
            retry = Optional.of(RouteRetries.httpRetry(rule, at));
        } else {
            retry = RouteRetries.annotatedRetry(metadata);
        }
        return new Rule(index, Optional.ofNullable(rule.getName()), outMatches, outFilters, outBackends, request, backend, retry);
    }

    private static Rule grpcRule(RouteKey key, int index, GRPCRouteRule rule, ObjectMeta metadata) throws Unusable {
        String at = "spec.rules[" + index + "]";
        List<GRPCRouteMatch> matches = list(rule.getMatches());
        limit(matches, MAX_MATCHES, at + ".matches");
        List<Match> outMatches = new ArrayList<>();
        for (int m = 0; m < matches.size(); m++) {
            outMatches.add(RouteMatches.grpcMatch(matches.get(m), at + ".matches[" + m + "]"));
        }
        if (outMatches.isEmpty()) {
            outMatches.add(Match.ANY);
        }
        List<GRPCRouteFilter> filters = list(rule.getFilters());
        limit(filters, MAX_FILTERS, at + ".filters");
        List<Filter> outFilters = new ArrayList<>();
        for (int f = 0; f < filters.size(); f++) {
            outFilters.add(RouteFilters.grpcFilter(key, filters.get(f), at + ".filters[" + f + "]"));
        }
        RouteFilters.checkFilterCombination(outFilters, outMatches, at);
        List<GRPCBackendRef> backends = list(rule.getBackendRefs());
        limit(backends, MAX_BACKENDS, at + ".backendRefs");
        List<Backend> outBackends = new ArrayList<>();
        for (int b = 0; b < backends.size(); b++) {
            GRPCBackendRef ref = backends.get(b);
            if (!list(ref.getFilters()).isEmpty()) {
                throw Unusable.value(at + ".backendRefs[" + b + "].filters: filters per backend are not supported; put them on the rule");
            }
            outBackends.add(backend(key, ref.getGroup(), ref.getKind(), ref.getName(), ref.getNamespace(), ref.getPort(), ref.getWeight(),
                    at + ".backendRefs[" + b + "]"));
        }
        checkWeights(outBackends, outFilters, at);
        // GRPCRoute has no timeouts field: the annotations say them.
        Optional<Duration> request = duration(annotation(metadata, TIMEOUT_REQUEST), "metadata.annotations[" + TIMEOUT_REQUEST + "]");
        Optional<Duration> backend = duration(annotation(metadata, TIMEOUT_BACKEND_REQUEST), "metadata.annotations[" + TIMEOUT_BACKEND_REQUEST + "]");
        return new Rule(index, Optional.ofNullable(rule.getName()), outMatches, outFilters, outBackends, request, backend, RouteRetries.annotatedRetry(metadata));
    }












    static Backend backend(RouteKey key, String group, String kind, String name, String namespace, Integer port, Integer weight, String at)
            throws Unusable {
        if (name == null || name.isEmpty()) {
            throw Unusable.value(at + ".name: is required");
        }
        Backend backend = new Backend(group == null ? "" : group, kind == null ? "Service" : kind,
                new ObjectKey(namespace == null ? key.id().namespace() : namespace, name), Optional.ofNullable(port),
                weight == null ? 1 : weight);
        if (backend.weight() < 0 || backend.weight() > MAX_WEIGHT) {
            throw Unusable.value(at + ".weight: " + backend.weight() + " is not within 0-" + MAX_WEIGHT);
        }
        if (backend.isService() && backend.port().isEmpty()) {
            throw Unusable.value(at + ".port: is required for a Service backend");
        }
        if (backend.port().isPresent() && (backend.port().get() < 1 || backend.port().get() > 65535)) {
            throw Unusable.value(at + ".port: " + backend.port().get() + " is not a port (1-65535)");
        }
        return backend;
    }

    /** Backends given with weights that are all zero send nothing anywhere: refused rather than failing every request. */
    static void checkWeights(List<Backend> backends, List<Filter> filters, String at) throws Unusable {
        boolean redirects = filters.stream().anyMatch(f -> f instanceof Filter.Redirect);
        if (!backends.isEmpty() && backends.stream().mapToLong(Backend::weight).sum() == 0 && !redirects) {
            throw Unusable.value(at + ".backendRefs: the weights sum to zero, so no request could go anywhere");
        }
    }




    static Optional<Duration> duration(String text, String at) throws Unusable {
        if (text == null) {
            return Optional.empty();
        }
        Duration duration;
        try {
            duration = GatewayDurations.parse(text);
        } catch (IllegalArgumentException e) {
            throw Unusable.value(at + ": " + e.getMessage());
        }
        // Zero means none, as the Gateway API says.
        return duration.isZero() ? Optional.empty() : Optional.of(duration);
    }

    static String annotation(ObjectMeta metadata, String key) {
        return metadata.getAnnotations() == null ? null : metadata.getAnnotations().get(key);
    }

    static void limit(List<?> items, int max, String at) throws Unusable {
        if (items.size() > max) {
            throw Unusable.value(at + ": " + items.size() + " given; at most " + max);
        }
    }

    static <T> List<T> list(List<T> items) {
        return items == null ? List.of() : items;
    }
}
