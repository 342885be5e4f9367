package dev.trellis.cluster.routes;

import static dev.trellis.cluster.routes.GatewayRoutes.MAX_CONDITIONS;
import static dev.trellis.cluster.routes.GatewayRoutes.MAX_VALUE_LENGTH;
import static dev.trellis.cluster.routes.GatewayRoutes.limit;
import static dev.trellis.cluster.routes.GatewayRoutes.list;

import dev.trellis.cluster.routes.GatewayRoutes.Unusable;
import dev.trellis.cluster.routes.MeshRoute.Match;
import dev.trellis.cluster.routes.MeshRoute.MatchType;
import dev.trellis.cluster.routes.MeshRoute.PathMatch;
import dev.trellis.cluster.routes.MeshRoute.ValueMatch;
import dev.trellis.core.text.BoundedRegex;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCHeaderMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCMethodMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPQueryParamMatch;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteMatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/** Matches of HTTPRoute and GRPCRoute rules: paths, methods, headers, query parameters, gRPC methods (as the paths they stand for). Stateless. */
final class RouteMatches {

    static final Pattern HEADER_NAME = Pattern.compile("[A-Za-z0-9!#$%&'*+\\-.^_`|~]{1,256}");
    private static final Pattern METHOD = Pattern.compile("GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH");
    private static final Pattern GRPC_NAME = Pattern.compile("[A-Za-z0-9_.]{1,1024}");

    private RouteMatches() {
    }

    static Match httpMatch(HTTPRouteMatch match, String at) throws Unusable {
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
    static Match grpcMatch(GRPCRouteMatch match, String at) throws Unusable {
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

    static ValueMatch valueMatch(String name, String type, String value, String at, boolean header) throws Unusable {
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

    static String regex(String value, String at) throws Unusable {
        try {
            BoundedRegex.compile(value);
            return value;
        } catch (IllegalArgumentException e) {
            throw Unusable.value(at + ": " + e.getMessage());
        }
    }
}
