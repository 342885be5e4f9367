package dev.trellis.cluster.routes;

import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.routes.MeshRoute.Backend;
import dev.trellis.cluster.routes.MeshRoute.Filter;
import dev.trellis.cluster.routes.MeshRoute.Header;
import dev.trellis.cluster.routes.MeshRoute.HeaderEdit;
import dev.trellis.cluster.routes.MeshRoute.Kind;
import dev.trellis.cluster.routes.MeshRoute.Match;
import dev.trellis.cluster.routes.MeshRoute.MatchType;
import dev.trellis.cluster.routes.MeshRoute.PathEdit;
import dev.trellis.cluster.routes.MeshRoute.PathMatch;
import dev.trellis.cluster.routes.MeshRoute.Retry;
import dev.trellis.cluster.routes.MeshRoute.RouteKey;
import dev.trellis.cluster.routes.MeshRoute.Rule;
import dev.trellis.cluster.routes.MeshRoute.ServiceParent;
import dev.trellis.cluster.routes.MeshRoute.ValueMatch;
import dev.trellis.core.text.BoundedRegex;
import dev.trellis.core.time.DurationText;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.BackendObjectReference;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCBackendRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCHeaderMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCMethodMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPBackendRef;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeader;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPPathModifier;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPQueryParamMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRequestMirrorFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteRule;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReference;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

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

    /** gRPC status codes by the names Linkerd's annotation uses. */
    private static final Map<String, Integer> GRPC_CODES = Map.ofEntries(Map.entry("cancelled", 1), Map.entry("unknown", 2),
            Map.entry("invalid-argument", 3), Map.entry("deadline-exceeded", 4), Map.entry("not-found", 5), Map.entry("already-exists", 6),
            Map.entry("permission-denied", 7), Map.entry("resource-exhausted", 8), Map.entry("failed-precondition", 9),
            Map.entry("aborted", 10), Map.entry("out-of-range", 11), Map.entry("unimplemented", 12), Map.entry("internal", 13),
            Map.entry("unavailable", 14), Map.entry("data-loss", 15), Map.entry("unauthenticated", 16));
    private static final Pattern HEADER_NAME = Pattern.compile("[A-Za-z0-9!#$%&'*+\\-.^_`|~]{1,256}");
    private static final Pattern METHOD = Pattern.compile("GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH");
    private static final Pattern GRPC_NAME = Pattern.compile("[A-Za-z0-9_.]{1,1024}");
    private static final Pattern HOSTNAME = Pattern.compile("([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

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
            String group = ref.getGroup() == null ? GROUP : ref.getGroup();
            String kind = ref.getKind() == null ? "Gateway" : ref.getKind();
            if (group.isEmpty() && kind.equals("Service") && ref.getName() != null) {
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
            outMatches.add(httpMatch(matches.get(m), at + ".matches[" + m + "]"));
        }
        if (outMatches.isEmpty()) {
            outMatches.add(new Match(Optional.of(new PathMatch(MatchType.PREFIX, "/")), Optional.empty(), List.of(), List.of()));
        }
        List<HTTPRouteFilter> filters = list(rule.getFilters());
        limit(filters, MAX_FILTERS, at + ".filters");
        List<Filter> outFilters = new ArrayList<>();
        for (int f = 0; f < filters.size(); f++) {
            outFilters.add(httpFilter(key, filters.get(f), at + ".filters[" + f + "]"));
        }
        checkFilterCombination(outFilters, outMatches, at);
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
            retry = Optional.of(httpRetry(rule, at));
        } else {
            retry = annotatedRetry(metadata);
        }
        return new Rule(index, Optional.ofNullable(rule.getName()), outMatches, outFilters, outBackends, request, backend, retry);
    }

    private static Rule grpcRule(RouteKey key, int index, GRPCRouteRule rule, ObjectMeta metadata) throws Unusable {
        String at = "spec.rules[" + index + "]";
        List<GRPCRouteMatch> matches = list(rule.getMatches());
        limit(matches, MAX_MATCHES, at + ".matches");
        List<Match> outMatches = new ArrayList<>();
        for (int m = 0; m < matches.size(); m++) {
            outMatches.add(grpcMatch(matches.get(m), at + ".matches[" + m + "]"));
        }
        if (outMatches.isEmpty()) {
            outMatches.add(Match.ANY);
        }
        List<GRPCRouteFilter> filters = list(rule.getFilters());
        limit(filters, MAX_FILTERS, at + ".filters");
        List<Filter> outFilters = new ArrayList<>();
        for (int f = 0; f < filters.size(); f++) {
            GRPCRouteFilter filter = filters.get(f);
            String fat = at + ".filters[" + f + "]";
            String type = String.valueOf(filter.getType());
            outFilters.add(switch (type) {
                case "RequestHeaderModifier" -> new Filter.RequestHeaders(headerEdit(filter.getRequestHeaderModifier(), fat + ".requestHeaderModifier"));
                case "ResponseHeaderModifier" -> new Filter.ResponseHeaders(headerEdit(filter.getResponseHeaderModifier(), fat + ".responseHeaderModifier"));
                case "RequestMirror" -> mirror(key, filter.getRequestMirror(), fat + ".requestMirror");
                default -> throw Unusable.value(fat + ".type: '" + type + "' is not supported (RequestHeaderModifier, ResponseHeaderModifier, RequestMirror)");
            });
        }
        checkFilterCombination(outFilters, outMatches, at);
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
        return new Rule(index, Optional.ofNullable(rule.getName()), outMatches, outFilters, outBackends, request, backend, annotatedRetry(metadata));
    }

    private static Match httpMatch(HTTPRouteMatch match, String at) throws Unusable {
        Optional<PathMatch> path = Optional.of(new PathMatch(MatchType.PREFIX, "/"));
        if (match.getPath() != null) {
            String type = match.getPath().getType() == null ? "PathPrefix" : match.getPath().getType();
            String value = match.getPath().getValue() == null ? "/" : match.getPath().getValue();
            MatchType matchType = switch (type) {
                case "Exact" -> MatchType.EXACT;
                case "PathPrefix" -> MatchType.PREFIX;
                case "RegularExpression" -> MatchType.REGEX;
                default -> throw Unusable.value(at + ".path.type: '" + type + "' is not Exact, PathPrefix or RegularExpression");
            };
            if (matchType == MatchType.REGEX) {
                regex(value, at + ".path.value");
            } else if (!value.startsWith("/") || value.length() > 1024) {
                throw Unusable.value(at + ".path.value: '" + value + "' must start with / (at most 1,024 characters)");
            }
            if (matchType == MatchType.PREFIX && value.length() > 1 && value.endsWith("/")) {
                value = value.substring(0, value.length() - 1);
            }
            path = Optional.of(new PathMatch(matchType, value));
        }
        Optional<String> method = Optional.ofNullable(match.getMethod());
        if (method.isPresent() && !METHOD.matcher(method.get()).matches()) {
            throw Unusable.value(at + ".method: '" + method.get() + "' is not one of " + METHOD.pattern().replace('|', ','));
        }
        List<ValueMatch> headers = new ArrayList<>();
        List<HTTPHeaderMatch> headerMatches = list(match.getHeaders());
        limit(headerMatches, MAX_CONDITIONS, at + ".headers");
        for (int h = 0; h < headerMatches.size(); h++) {
            HTTPHeaderMatch header = headerMatches.get(h);
            headers.add(valueMatch(header.getName(), header.getType(), header.getValue(), at + ".headers[" + h + "]", true));
        }
        List<ValueMatch> query = new ArrayList<>();
        List<HTTPQueryParamMatch> queryMatches = list(match.getQueryParams());
        limit(queryMatches, MAX_CONDITIONS, at + ".queryParams");
        for (int q = 0; q < queryMatches.size(); q++) {
            HTTPQueryParamMatch param = queryMatches.get(q);
            query.add(valueMatch(param.getName(), param.getType(), param.getValue(), at + ".queryParams[" + q + "]", false));
        }
        return new Match(path, method, headers, query);
    }

    /** A gRPC method match as the path {@code /service/method} it stands for. */
    private static Match grpcMatch(GRPCRouteMatch match, String at) throws Unusable {
        Optional<PathMatch> path = Optional.empty();
        GRPCMethodMatch method = match.getMethod();
        if (method != null && (method.getService() != null || method.getMethod() != null)) {
            String type = method.getType() == null ? "Exact" : method.getType();
            String service = method.getService();
            String name = method.getMethod();
            switch (type) {
                case "Exact" -> {
                    for (String part : new String[] {service, name}) {
                        if (part != null && !GRPC_NAME.matcher(part).matches()) {
                            throw Unusable.value(at + ".method: '" + part + "' is not a gRPC service or method name");
                        }
                    }
                    if (service != null && name != null) {
                        path = Optional.of(new PathMatch(MatchType.EXACT, "/" + service + "/" + name));
                    } else if (service != null) {
                        path = Optional.of(new PathMatch(MatchType.PREFIX, "/" + service));
                    } else {
                        path = Optional.of(new PathMatch(MatchType.REGEX, "/[^/]+/" + Pattern.quote(name)));
                    }
                }
                case "RegularExpression" -> {
                    String servicePart = service == null ? "[^/]+" : "(?:" + regex(service, at + ".method.service") + ")";
                    String methodPart = name == null ? "[^/]+" : "(?:" + regex(name, at + ".method.method") + ")";
                    path = Optional.of(new PathMatch(MatchType.REGEX, "/" + servicePart + "/" + methodPart));
                }
                default -> throw Unusable.value(at + ".method.type: '" + type + "' is not Exact or RegularExpression");
            }
        }
        List<ValueMatch> headers = new ArrayList<>();
        List<GRPCHeaderMatch> headerMatches = list(match.getHeaders());
        limit(headerMatches, MAX_CONDITIONS, at + ".headers");
        for (int h = 0; h < headerMatches.size(); h++) {
            GRPCHeaderMatch header = headerMatches.get(h);
            headers.add(valueMatch(header.getName(), header.getType(), header.getValue(), at + ".headers[" + h + "]", true));
        }
        return new Match(path, Optional.empty(), headers, List.of());
    }

    private static ValueMatch valueMatch(String name, String type, String value, String at, boolean header) throws Unusable {
        if (name == null || (header ? !HEADER_NAME.matcher(name).matches() : name.isEmpty() || name.length() > 256)) {
            throw Unusable.value(at + ".name: '" + name + "' is not a " + (header ? "header" : "query parameter") + " name");
        }
        if (value == null || value.length() > MAX_VALUE_LENGTH) {
            throw Unusable.value(at + ".value: needs a value of at most " + MAX_VALUE_LENGTH + " characters");
        }
        String matchType = type == null ? "Exact" : type;
        return switch (matchType) {
            case "Exact" -> new ValueMatch(header ? name.toLowerCase(Locale.ROOT) : name, MatchType.EXACT, value);
            case "RegularExpression" -> {
                regex(value, at + ".value");
                yield new ValueMatch(header ? name.toLowerCase(Locale.ROOT) : name, MatchType.REGEX, value);
            }
            default -> throw Unusable.value(at + ".type: '" + matchType + "' is not Exact or RegularExpression");
        };
    }

    private static String regex(String value, String at) throws Unusable {
        try {
            BoundedRegex.compile(value);
            return value;
        } catch (IllegalArgumentException e) {
            throw Unusable.value(at + ": " + e.getMessage());
        }
    }

    private static Filter httpFilter(RouteKey key, HTTPRouteFilter filter, String at) throws Unusable {
        String type = String.valueOf(filter.getType());
        return switch (type) {
            case "RequestHeaderModifier" -> new Filter.RequestHeaders(headerEdit(filter.getRequestHeaderModifier(), at + ".requestHeaderModifier"));
            case "ResponseHeaderModifier" -> new Filter.ResponseHeaders(headerEdit(filter.getResponseHeaderModifier(), at + ".responseHeaderModifier"));
            case "RequestMirror" -> mirror(key, filter.getRequestMirror(), at + ".requestMirror");
            case "RequestRedirect" -> {
                var redirect = filter.getRequestRedirect();
                if (redirect == null) {
                    throw Unusable.value(at + ".requestRedirect: is required for type RequestRedirect");
                }
                Optional<String> scheme = Optional.ofNullable(redirect.getScheme());
                if (scheme.isPresent() && !scheme.get().equals("http") && !scheme.get().equals("https")) {
                    throw Unusable.value(at + ".requestRedirect.scheme: '" + scheme.get() + "' is not http or https");
                }
                int status = redirect.getStatusCode() == null ? 302 : redirect.getStatusCode();
                if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
                    throw Unusable.value(at + ".requestRedirect.statusCode: " + status + " is not one of 301, 302, 303, 307, 308");
                }
                Optional<Integer> port = Optional.ofNullable(redirect.getPort());
                if (port.isPresent() && (port.get() < 1 || port.get() > 65535)) {
                    throw Unusable.value(at + ".requestRedirect.port: " + port.get() + " is not a port (1-65535)");
                }
                yield new Filter.Redirect(scheme, hostname(redirect.getHostname(), at + ".requestRedirect.hostname"),
                        pathEdit(redirect.getPath(), at + ".requestRedirect.path"), port, status);
            }
            case "URLRewrite" -> {
                var rewrite = filter.getUrlRewrite();
                if (rewrite == null) {
                    throw Unusable.value(at + ".urlRewrite: is required for type URLRewrite");
                }
                yield new Filter.Rewrite(hostname(rewrite.getHostname(), at + ".urlRewrite.hostname"), pathEdit(rewrite.getPath(), at + ".urlRewrite.path"));
            }
            default -> throw Unusable.value(at + ".type: '" + type
                    + "' is not supported (RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror)");
        };
    }

    private static HeaderEdit headerEdit(HTTPHeaderFilter filter, String at) throws Unusable {
        if (filter == null) {
            throw Unusable.value(at + ": is required for its type");
        }
        List<Header> set = headers(filter.getSet(), at + ".set");
        List<Header> add = headers(filter.getAdd(), at + ".add");
        List<String> remove = list(filter.getRemove());
        limit(remove, MAX_CONDITIONS, at + ".remove");
        for (String name : remove) {
            if (name == null || !HEADER_NAME.matcher(name).matches()) {
                throw Unusable.value(at + ".remove: '" + name + "' is not a header name");
            }
        }
        return new HeaderEdit(set, add, remove.stream().map(n -> n.toLowerCase(Locale.ROOT)).toList());
    }

    private static List<Header> headers(List<HTTPHeader> headers, String at) throws Unusable {
        List<HTTPHeader> given = list(headers);
        limit(given, MAX_CONDITIONS, at);
        List<Header> out = new ArrayList<>();
        for (int i = 0; i < given.size(); i++) {
            HTTPHeader header = given.get(i);
            if (header.getName() == null || !HEADER_NAME.matcher(header.getName()).matches()) {
                throw Unusable.value(at + "[" + i + "].name: '" + header.getName() + "' is not a header name");
            }
            String name = header.getName().toLowerCase(Locale.ROOT);
            if (name.equals("host") || name.startsWith(":") || name.startsWith("l5d-") || name.startsWith("trellis-")) {
                throw Unusable.value(at + "[" + i + "].name: '" + header.getName() + "' is the proxy's to set");
            }
            String value = header.getValue() == null ? "" : header.getValue();
            if (value.length() > MAX_VALUE_LENGTH || value.chars().anyMatch(c -> c == '\r' || c == '\n' || c == 0)) {
                throw Unusable.value(at + "[" + i + "].value: must be one line of at most " + MAX_VALUE_LENGTH + " characters");
            }
            out.add(new Header(name, value));
        }
        return out;
    }

    private static Optional<String> hostname(String hostname, String at) throws Unusable {
        if (hostname == null) {
            return Optional.empty();
        }
        if (!HOSTNAME.matcher(hostname).matches() || hostname.length() > 253) {
            throw Unusable.value(at + ": '" + hostname + "' is not a host name");
        }
        return Optional.of(hostname);
    }

    private static Optional<PathEdit> pathEdit(HTTPPathModifier modifier, String at) throws Unusable {
        if (modifier == null) {
            return Optional.empty();
        }
        String type = String.valueOf(modifier.getType());
        return switch (type) {
            case "ReplaceFullPath" -> Optional.of(new PathEdit(true, path(modifier.getReplaceFullPath(), at + ".replaceFullPath")));
            case "ReplacePrefixMatch" -> Optional.of(new PathEdit(false, path(modifier.getReplacePrefixMatch(), at + ".replacePrefixMatch")));
            default -> throw Unusable.value(at + ".type: '" + type + "' is not ReplaceFullPath or ReplacePrefixMatch");
        };
    }

    private static String path(String value, String at) throws Unusable {
        if (value == null || !value.startsWith("/") || value.length() > 1024 || value.chars().anyMatch(c -> c <= ' ' || c == 127)) {
            throw Unusable.value(at + ": '" + value + "' must be a path starting with / (at most 1,024 characters, no spaces)");
        }
        return value;
    }

    private static Filter.Mirror mirror(RouteKey key, HTTPRequestMirrorFilter mirror, String at) throws Unusable {
        if (mirror == null || mirror.getBackendRef() == null) {
            throw Unusable.value(at + ".backendRef: is required for type RequestMirror");
        }
        BackendObjectReference ref = mirror.getBackendRef();
        int percent = 100;
        if (mirror.getPercent() != null) {
            percent = mirror.getPercent();
        } else if (mirror.getFraction() != null && mirror.getFraction().getNumerator() != null) {
            int denominator = mirror.getFraction().getDenominator() == null ? 100 : mirror.getFraction().getDenominator();
            if (denominator < 1) {
                throw Unusable.value(at + ".fraction.denominator: must be at least 1");
            }
            percent = (int) Math.round(100.0 * mirror.getFraction().getNumerator() / denominator);
        }
        if (percent < 0 || percent > 100) {
            throw Unusable.value(at + ": mirrors " + percent + " % of requests; give 0-100");
        }
        return new Filter.Mirror(backend(key, ref.getGroup(), ref.getKind(), ref.getName(), ref.getNamespace(), ref.getPort(), 1, at + ".backendRef"),
                percent);
    }

    private static Backend backend(RouteKey key, String group, String kind, String name, String namespace, Integer port, Integer weight, String at)
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
    private static void checkWeights(List<Backend> backends, List<Filter> filters, String at) throws Unusable {
        boolean redirects = filters.stream().anyMatch(f -> f instanceof Filter.Redirect);
        if (!backends.isEmpty() && backends.stream().mapToLong(Backend::weight).sum() == 0 && !redirects) {
            throw Unusable.value(at + ".backendRefs: the weights sum to zero, so no request could go anywhere");
        }
    }

    /** The Gateway API's rules for filters used together. */
    private static void checkFilterCombination(List<Filter> filters, List<Match> matches, String at) throws Unusable {
        Set<Class<?>> seen = new HashSet<>();
        for (Filter filter : filters) {
            if (!(filter instanceof Filter.Mirror) && !seen.add(filter.getClass())) {
                throw Unusable.value(at + ".filters: " + filter.getClass().getSimpleName() + " is given twice");
            }
        }
        if (seen.contains(Filter.Redirect.class) && seen.contains(Filter.Rewrite.class)) {
            throw Unusable.value(at + ".filters: RequestRedirect and URLRewrite cannot be used together");
        }
        boolean replacesPrefix = filters.stream().anyMatch(f -> (f instanceof Filter.Redirect r && r.path().map(p -> !p.fullPath()).orElse(false))
                || (f instanceof Filter.Rewrite w && w.path().map(p -> !p.fullPath()).orElse(false)));
        if (replacesPrefix && matches.stream().anyMatch(m -> m.path().map(p -> p.type() != MatchType.PREFIX).orElse(true))) {
            throw Unusable.value(at + ".filters: ReplacePrefixMatch needs every match of the rule to be a PathPrefix match");
        }
    }

    private static Retry httpRetry(HTTPRouteRule rule, String at) throws Unusable {
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
    private static Optional<Retry> annotatedRetry(ObjectMeta metadata) throws Unusable {
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

    private static Optional<Duration> duration(String text, String at) throws Unusable {
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

    private static String annotation(ObjectMeta metadata, String key) {
        return metadata.getAnnotations() == null ? null : metadata.getAnnotations().get(key);
    }

    private static void limit(List<?> items, int max, String at) throws Unusable {
        if (items.size() > max) {
            throw Unusable.value(at + ": " + items.size() + " given; at most " + max);
        }
    }

    private static <T> List<T> list(List<T> items) {
        return items == null ? List.of() : items;
    }
}
