package dev.trellis.proxy.routes;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.destination.Route;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The route a request matched, and everything it says about the request: the name and kind
 * metrics carry, where it goes ({@link #backend}), its filters, timeouts and retries. Immutable.
 *
 * @param timeout        the whole request's, retries included
 * @param backendTimeout each try's
 * @param matchedPrefix  the path prefix the match was made on ({@code ""} for any other kind), which a prefix rewrite replaces
 */
public record MatchedRoute(String name, String kind, boolean retryable, Optional<Duration> timeout, Optional<Duration> backendTimeout,
                           Backends backends, Route.Filters filters, Optional<Route.Retry> retry, String matchedPrefix) {

    /** No route matched: the authority itself, no timeout beyond the proxy's, no retries beyond idempotent methods. */
    public static final MatchedRoute DEFAULT = new MatchedRoute("[default]", "", false, Optional.empty(), Optional.empty(), Backends.NONE,
            Route.Filters.NONE, Optional.empty(), "");

    public MatchedRoute {
        requireNonNull(name, "name");
        requireNonNull(kind, "kind");
        requireNonNull(timeout, "timeout");
        requireNonNull(backendTimeout, "backendTimeout");
        requireNonNull(backends, "backends");
        requireNonNull(filters, "filters");
        requireNonNull(retry, "retry");
        requireNonNull(matchedPrefix, "matchedPrefix");
    }

    /** A route of a name, a retry flag and a timeout only. */
    public MatchedRoute(String name, boolean retryable, Optional<Duration> timeout) {
        this(name, "", retryable, timeout, Optional.empty(), Backends.NONE, Route.Filters.NONE, Optional.empty(), "");
    }

    /**
     * Where this request goes: {@code requested} when the route names no backends, else one of
     * its backends by weight; {@code ""} for a backend the control plane could not resolve (the
     * request is answered 500, as the Gateway API asks).
     */
    public String backend(String requested) {
        return backends.pick(requested);
    }

    /** How long one try may wait for its response: the backend timeout, within the request's timeout, else {@code fallback}. */
    public Duration tryTimeout(Duration fallback) {
        if (backendTimeout.isPresent() && timeout.isPresent()) {
            return backendTimeout.get().compareTo(timeout.get()) < 0 ? backendTimeout.get() : timeout.get();
        }
        return backendTimeout.or(() -> timeout).orElse(fallback);
    }

    /**
     * Where this route's redirect sends a request for {@code requested} made over
     * {@code requestScheme}: the scheme, host and port the filter sets, else the request's (a
     * scheme the filter changes brings its own well-known port, which is left out), and the path
     * the filter gives {@code pathAndQuery}.
     */
    public String redirectLocation(dev.trellis.core.net.HostPort requested, String requestScheme, String pathAndQuery) {
        Route.Redirect redirect = filters.redirect().orElseThrow();
        String scheme = redirect.scheme().isEmpty() ? requestScheme : redirect.scheme();
        String host = redirect.hostname().isEmpty() ? requested.host() : redirect.hostname();
        int port = redirect.port() != 0 ? redirect.port() : redirect.scheme().isEmpty() ? requested.port() : scheme.equals("https") ? 443 : 80;
        boolean wellKnown = (scheme.equals("http") && port == 80) || (scheme.equals("https") && port == 443);
        return scheme + "://" + (host.contains(":") ? "[" + host + "]" : host) + (wellKnown ? "" : ":" + port)
                + rewritePath(pathAndQuery, redirect.hasPath(), redirect.path(), redirect.prefixMatch(), matchedPrefix);
    }

    /** The path a rewrite or redirect gives {@code pathAndQuery} (query kept), or {@code pathAndQuery} when it changes none. */
    public static String rewritePath(String pathAndQuery, boolean hasPath, String path, boolean prefixMatch, String matchedPrefix) {
        if (!hasPath) {
            return pathAndQuery;
        }
        int q = pathAndQuery.indexOf('?');
        String query = q < 0 ? "" : pathAndQuery.substring(q);
        String bare = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
        if (!prefixMatch) {
            return path + query;
        }
        String rest = matchedPrefix.equals("/") ? bare : bare.substring(Math.min(matchedPrefix.length(), bare.length()));
        String replaced;
        if (path.endsWith("/") && rest.startsWith("/")) {
            replaced = path + rest.substring(1);
        } else if (!path.endsWith("/") && !rest.isEmpty() && !rest.startsWith("/")) {
            replaced = path + "/" + rest;
        } else {
            replaced = path + rest;
        }
        return (replaced.isEmpty() ? "/" : replaced) + query;
    }

    /** A route's backends by weight; {@link #NONE} when it names none. Immutable. */
    public static final class Backends {
        public static final Backends NONE = new Backends(List.of());

        private final String[] authorities;
        private final long[] cumulative;
        private final long total;

        public Backends(List<Route.Backend> backends) {
            authorities = new String[backends.size()];
            cumulative = new long[backends.size()];
            long sum = 0;
            for (int i = 0; i < backends.size(); i++) {
                authorities[i] = backends.get(i).authority();
                sum += Integer.toUnsignedLong(backends.get(i).weight());
                cumulative[i] = sum;
            }
            total = sum;
        }

        String pick(String requested) {
            if (authorities.length == 0) {
                return requested;
            }
            if (total == 0) {
                return "";
            }
            long ticket = authorities.length == 1 ? 0 : ThreadLocalRandom.current().nextLong(total);
            for (int i = 0; i < cumulative.length; i++) {
                if (ticket < cumulative[i]) {
                    return authorities[i];
                }
            }
            return authorities[authorities.length - 1];
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Backends that && java.util.Arrays.equals(authorities, that.authorities) && java.util.Arrays.equals(cumulative, that.cumulative);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(authorities) * 31 + java.util.Arrays.hashCode(cumulative);
        }

        @Override
        public String toString() {
            return java.util.Arrays.toString(authorities) + java.util.Arrays.toString(cumulative);
        }
    }
}
