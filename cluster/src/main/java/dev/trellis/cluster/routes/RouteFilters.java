package dev.trellis.cluster.routes;

import static dev.trellis.cluster.routes.GatewayRoutes.MAX_CONDITIONS;
import static dev.trellis.cluster.routes.GatewayRoutes.MAX_VALUE_LENGTH;
import static dev.trellis.cluster.routes.GatewayRoutes.backend;
import static dev.trellis.cluster.routes.GatewayRoutes.limit;
import static dev.trellis.cluster.routes.GatewayRoutes.list;
import static dev.trellis.cluster.routes.RouteMatches.HEADER_NAME;

import dev.trellis.cluster.routes.GatewayRoutes.Unusable;
import dev.trellis.cluster.routes.MeshRoute.Filter;
import dev.trellis.cluster.routes.MeshRoute.Header;
import dev.trellis.cluster.routes.MeshRoute.HeaderEdit;
import dev.trellis.cluster.routes.MeshRoute.Match;
import dev.trellis.cluster.routes.MeshRoute.MatchType;
import dev.trellis.cluster.routes.MeshRoute.PathEdit;
import dev.trellis.cluster.routes.MeshRoute.RouteKey;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.BackendObjectReference;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeader;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPHeaderFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPPathModifier;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRequestMirrorFilter;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteFilter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/** Filters of HTTPRoute and GRPCRoute rules: header edits, redirects, rewrites, mirrors, and the rules for using them together. Stateless. */
final class RouteFilters {

    private static final Pattern HOSTNAME = Pattern.compile("([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

    private RouteFilters() {
    }

    static Filter grpcFilter(RouteKey key, GRPCRouteFilter filter, String at) throws Unusable {
        String type = String.valueOf(filter.getType());
        return switch (type) {
            case "RequestHeaderModifier" -> new Filter.RequestHeaders(headerEdit(filter.getRequestHeaderModifier(), at + ".requestHeaderModifier"));
            case "ResponseHeaderModifier" -> new Filter.ResponseHeaders(headerEdit(filter.getResponseHeaderModifier(), at + ".responseHeaderModifier"));
            case "RequestMirror" -> mirror(key, filter.getRequestMirror(), at + ".requestMirror");
            default -> throw Unusable.value(at + ".type: '" + type + "' is not supported (RequestHeaderModifier, ResponseHeaderModifier, RequestMirror)");
        };
    }

    static Filter httpFilter(RouteKey key, HTTPRouteFilter filter, String at) throws Unusable {
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

    static HeaderEdit headerEdit(HTTPHeaderFilter filter, String at) throws Unusable {
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

    static List<Header> headers(List<HTTPHeader> headers, String at) throws Unusable {
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

    static Optional<String> hostname(String hostname, String at) throws Unusable {
        if (hostname == null) {
            return Optional.empty();
        }
        if (!HOSTNAME.matcher(hostname).matches() || hostname.length() > 253) {
            throw Unusable.value(at + ": '" + hostname + "' is not a host name");
        }
        return Optional.of(hostname);
    }

    static Optional<PathEdit> pathEdit(HTTPPathModifier modifier, String at) throws Unusable {
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

    static String path(String value, String at) throws Unusable {
        if (value == null || !value.startsWith("/") || value.length() > 1024 || value.chars().anyMatch(c -> c <= ' ' || c == 127)) {
            throw Unusable.value(at + ": '" + value + "' must be a path starting with / (at most 1,024 characters, no spaces)");
        }
        return value;
    }

    static Filter.Mirror mirror(RouteKey key, HTTPRequestMirrorFilter mirror, String at) throws Unusable {
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

    /** The Gateway API's rules for filters used together. */
    static void checkFilterCombination(List<Filter> filters, List<Match> matches, String at) throws Unusable {
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
}
