package dev.trellis.proxy.routes;

import dev.trellis.core.text.BoundedRegex;
import dev.trellis.wire.destination.Profile;
import dev.trellis.wire.destination.Route;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One authority's routes, compiled once per profile, matched per request: the first route in
 * the profile's order that the request matches wins. Routes are indexed by their path
 * condition, so that a request is tried only against the routes its path can match: exact
 * paths in a map (one lookup), path prefixes in a tree of path segments (one step per segment
 * of the request's path), and the rest (regular expressions, no path condition) in a list.
 * Within each, routes whose first header condition is an exact value are indexed by that
 * header and value, so a table of per-tenant header routes costs a lookup, not a scan. The
 * candidates are tried in profile order, merged from those lists. Regular expressions run
 * within {@link BoundedRegex}'s budget. Immutable; thread-safe.
 */
public final class RouteTable {

    private static final Logger log = LoggerFactory.getLogger(RouteTable.class);

    public static final RouteTable EMPTY = new RouteTable(List.of(), List.of());

    private final Map<String, Bucket> exact = new HashMap<>();
    private final Segment prefixes = new Segment();
    private final Bucket others = new Bucket();

    /** A node of the prefix tree: the routes whose prefix ends here, and the next segments (made when first needed: most nodes are leaves). */
    private static final class Segment {
        Map<String, Segment> next = Map.of();
        final Bucket routes = new Bucket();

        Segment child(String segment) {
            if (next.isEmpty()) {
                next = new HashMap<>();
            }
            return next.computeIfAbsent(segment, s -> new Segment());
        }
    }

    /**
     * Routes of one path condition, in profile order: those whose first header condition is an
     * exact value by that header and value, the others in a list.
     */
    private static final class Bucket {
        /** Made when first needed: most buckets hold one kind of route, many none. */
        List<Compiled> plain = List.of();
        Map<String, Map<String, List<Compiled>>> byHeader = Map.of();

        void add(Compiled route) {
            Optional<ValueCondition> exactHeader = route.headers().stream().filter(h -> h.regex().isEmpty()).findFirst();
            if (exactHeader.isPresent()) {
                if (byHeader.isEmpty()) {
                    byHeader = new HashMap<>();
                }
                byHeader.computeIfAbsent(exactHeader.get().name(), n -> new HashMap<>())
                        .computeIfAbsent(exactHeader.get().value(), v -> new ArrayList<>(1)).add(route);
            } else {
                if (plain.isEmpty()) {
                    plain = new ArrayList<>(1);
                }
                plain.add(route);
            }
        }

        /** The lists of this bucket's routes {@code request} can match, each in profile order. */
        void candidates(RouteRequest request, List<List<Compiled>> into) {
            if (!plain.isEmpty()) {
                into.add(plain);
            }
            for (Map.Entry<String, Map<String, List<Compiled>>> header : byHeader.entrySet()) {
                for (CharSequence value : request.header(header.getKey())) {
                    List<Compiled> routes = header.getValue().get(value.toString());
                    if (routes != null) {
                        into.add(routes);
                    }
                }
            }
        }
    }
    private final int size;
    private final MatchedRoute.Backends opaqueBackends;

    private record ValueCondition(String name, Optional<Pattern> regex, String value) {
        boolean test(CharSequence actual) {
            return regex.map(p -> BoundedRegex.matches(p, actual)).orElseGet(() -> value.contentEquals(actual));
        }
    }

    private record Compiled(int position, MatchedRoute route, String method, String exactPath, String prefix, Optional<Pattern> regex,
                            List<ValueCondition> headers, List<ValueCondition> query) {

        boolean pathMatches(String bare) {
            if (regex.isPresent()) {
                return BoundedRegex.matches(regex.get(), bare);
            }
            if (!prefix.isEmpty()) {
                return prefix.equals("/") || bare.equals(prefix) || (bare.startsWith(prefix) && bare.charAt(prefix.length()) == '/');
            }
            return exactPath.isEmpty() || bare.equals(exactPath);
        }

        boolean restMatches(RouteRequest request) {
            if (!method.isEmpty() && !method.equalsIgnoreCase(request.method())) {
                return false;
            }
            for (ValueCondition header : headers) {
                boolean any = false;
                for (CharSequence value : request.header(header.name())) {
                    if (header.test(value)) {
                        any = true;
                        break;
                    }
                }
                if (!any) {
                    return false;
                }
            }
            if (!query.isEmpty()) {
                Map<String, List<String>> params = new QueryStringDecoder(request.pathAndQuery()).parameters();
                for (ValueCondition param : query) {
                    List<String> values = params.get(param.name());
                    if (values == null || values.isEmpty() || !param.test(values.getFirst())) {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    private RouteTable(List<Route> routes, List<Route.Backend> opaque) {
        this.opaqueBackends = opaque.isEmpty() ? MatchedRoute.Backends.NONE : new MatchedRoute.Backends(opaque);
        int position = 0;
        for (Route route : routes) {
            Optional<Compiled> compiled = compile(position, route);
            if (compiled.isEmpty()) {
                continue;
            }
            Compiled c = compiled.get();
            if (!c.exactPath().isEmpty()) {
                exact.computeIfAbsent(c.exactPath(), p -> new Bucket()).add(c);
            } else if (!c.prefix().isEmpty() && c.regex().isEmpty()) {
                Segment node = prefixes;
                for (String segment : segments(c.prefix())) {
                    node = node.child(segment);
                }
                node.routes.add(c);
            } else {
                others.add(c);
            }
            position++;
        }
        size = position;
    }

    /** The routes of {@code profile}; a route whose pattern cannot be used is left out with a warning. */
    public static RouteTable of(Profile profile) {
        return profile.routes().isEmpty() && profile.opaqueBackends().isEmpty() ? EMPTY : new RouteTable(profile.routes(), profile.opaqueBackends());
    }

    public int size() {
        return size;
    }

    /**
     * Where one opaque connection to the authority goes: {@code requested} when no TCPRoute
     * splits it, else one of its backends by weight ({@code ""}: one that cannot be resolved).
     */
    public String opaqueBackend(String requested) {
        return opaqueBackends.pick(requested);
    }

    /** The first route {@code request} matches, or {@link MatchedRoute#DEFAULT}. */
    public MatchedRoute match(RouteRequest request) {
        if (size == 0) {
            return MatchedRoute.DEFAULT;
        }
        String pathAndQuery = request.pathAndQuery();
        int q = pathAndQuery.indexOf('?');
        String bare = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
        // The lists whose routes this path can match, each in profile order.
        List<List<Compiled>> lists = new ArrayList<>(4);
        Bucket exactHere = exact.get(bare);
        if (exactHere != null) {
            exactHere.candidates(request, lists);
        }
        Segment node = prefixes;
        node.routes.candidates(request, lists);
        for (String segment : segments(bare)) {
            node = node.next.get(segment);
            if (node == null) {
                break;
            }
            node.routes.candidates(request, lists);
        }
        others.candidates(request, lists);
        // Merged by position: the first in profile order whose conditions all hold wins.
        int[] next = new int[lists.size()];
        while (true) {
            int pick = -1;
            for (int i = 0; i < lists.size(); i++) {
                if (next[i] < lists.get(i).size()
                        && (pick < 0 || lists.get(i).get(next[i]).position() < lists.get(pick).get(next[pick]).position())) {
                    pick = i;
                }
            }
            if (pick < 0) {
                return MatchedRoute.DEFAULT;
            }
            Compiled candidate = lists.get(pick).get(next[pick]++);
            if (candidate.pathMatches(bare) && candidate.restMatches(request)) {
                return candidate.route();
            }
        }
    }

    /** The segments of a path: {@code /api/v1/} is {@code api}, {@code v1}, {@code ""}; {@code /} is none. */
    private static List<String> segments(String path) {
        List<String> out = new ArrayList<>();
        if (path.length() <= 1) {
            return out;
        }
        int start = 1;
        while (true) {
            int slash = path.indexOf('/', start);
            if (slash < 0) {
                out.add(path.substring(start));
                return out;
            }
            out.add(path.substring(start, slash));
            start = slash + 1;
        }
    }

    private static Optional<Compiled> compile(int position, Route route) {
        try {
            Route.Match match = route.match();
            Optional<Pattern> regex = match.pathRegex().isEmpty() ? Optional.empty() : Optional.of(BoundedRegex.compile(match.pathRegex()));
            List<ValueCondition> headers = new ArrayList<>();
            for (Route.ValueMatch header : match.headers()) {
                headers.add(condition(header));
            }
            List<ValueCondition> query = new ArrayList<>();
            for (Route.ValueMatch param : match.queryParams()) {
                query.add(condition(param));
            }
            Optional<Duration> timeout = route.timeout().filter(Duration::isPositive);
            // Each try's: the backend timeout, else the retry policy's per-try timeout.
            Optional<Duration> backendTimeout = route.backendTimeout().or(() -> route.retry().flatMap(Route.Retry::perTry)).filter(Duration::isPositive);
            MatchedRoute matched = new MatchedRoute(route.name(), route.kind(), route.retryable(), timeout, backendTimeout,
                    route.backends().isEmpty() ? MatchedRoute.Backends.NONE : new MatchedRoute.Backends(route.backends()),
                    route.filters(), route.retry(), match.pathPrefix());
            String exactPath = regex.isEmpty() && match.pathPrefix().isEmpty() ? match.path() : "";
            return Optional.of(new Compiled(position, matched, match.method(), exactPath, match.pathPrefix(), regex, headers, query));
        } catch (IllegalArgumentException e) {
            log.warn("routes: route {} cannot be used; skipped: {}", route.name(), e.getMessage());
            return Optional.empty();
        }
    }

    private static ValueCondition condition(Route.ValueMatch match) {
        return new ValueCondition(match.name(), match.regex() ? Optional.of(BoundedRegex.compile(match.value())) : Optional.empty(), match.value());
    }
}
