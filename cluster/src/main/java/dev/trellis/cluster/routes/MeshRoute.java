package dev.trellis.cluster.routes;

import static java.util.Objects.requireNonNull;

import dev.trellis.cluster.ObjectKey;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A Gateway API route attached to Services (the GAMMA profile), validated: what the
 * destination service turns into the route profiles of those Services' ports. Only the parents
 * that are Services are kept; a route with none is not a mesh route. Immutable.
 *
 * @param generation the object's {@code metadata.generation}, which route status reports as observed
 * @param created    its creation time, the first tie-break between routes of equal precedence
 */
public record MeshRoute(RouteKey key, long generation, Instant created, List<ServiceParent> parents, List<Rule> rules) {

    public MeshRoute {
        requireNonNull(key, "key");
        requireNonNull(created, "created");
        parents = List.copyOf(parents);
        rules = List.copyOf(rules);
    }

    /** The kinds read, by the names their API gives them: requests (HTTP, gRPC) or connections (TCP). */
    public enum Kind {
        HTTP_ROUTE("HTTPRoute"), GRPC_ROUTE("GRPCRoute"), TCP_ROUTE("TCPRoute");

        private final String apiName;

        Kind(String apiName) {
            this.apiName = apiName;
        }

        public String apiName() {
            return apiName;
        }

        /** Whether the kind routes requests (HTTPRoute, GRPCRoute), not whole connections. */
        public boolean routesRequests() {
            return this != TCP_ROUTE;
        }
    }

    /** A route by kind and name: an HTTPRoute and a GRPCRoute may share a name. */
    public record RouteKey(Kind kind, ObjectKey id) implements Comparable<RouteKey> {
        public RouteKey {
            requireNonNull(kind, "kind");
            requireNonNull(id, "id");
        }

        @Override
        public int compareTo(RouteKey other) {
            int byId = id.compareTo(other.id);
            return byId != 0 ? byId : kind.compareTo(other.kind);
        }

        @Override
        public String toString() {
            return kind.apiName() + " " + id;
        }
    }

    /**
     * A Service the route attaches to, and the port when it names one (else every port). A
     * parent in another namespace than the route's makes a consumer route: it applies only to
     * callers in the route's own namespace.
     *
     * @param index the parent's position in {@code spec.parentRefs}, which route status echoes
     */
    public record ServiceParent(int index, ObjectKey service, Optional<Integer> port) {}

    /** How a path or value is compared. */
    public enum MatchType { EXACT, PREFIX, REGEX }

    /** A path condition. A {@code PREFIX} matches whole segments: {@code /api} matches {@code /api/x}, not {@code /apix}. */
    public record PathMatch(MatchType type, String value) {}

    /** A header (name compared without case) or query parameter (name compared exactly), {@code EXACT} or {@code REGEX}. */
    public record ValueMatch(String name, MatchType type, String value) {}

    /** All of its conditions must hold; a gRPC method match is written here as its path. */
    public record Match(Optional<PathMatch> path, Optional<String> method, List<ValueMatch> headers, List<ValueMatch> queryParams) {
        public static final Match ANY = new Match(Optional.empty(), Optional.empty(), List.of(), List.of());

        public Match {
            headers = List.copyOf(headers);
            queryParams = List.copyOf(queryParams);
        }
    }

    /** One header a modifier sets or adds. */
    public record Header(String name, String value) {}

    /** Headers set (replacing), added (appending) and removed, in that order of the API. */
    public record HeaderEdit(List<Header> set, List<Header> add, List<String> remove) {
        public HeaderEdit {
            set = List.copyOf(set);
            add = List.copyOf(add);
            remove = List.copyOf(remove);
        }
    }

    /** A path replaced whole, or the part the rule's prefix match matched replaced. */
    public record PathEdit(boolean fullPath, String value) {}

    /** A backend: a Service port (kind other than Service is kept so that status can name it) and its share. */
    public record Backend(String group, String kind, ObjectKey ref, Optional<Integer> port, int weight) {
        public boolean isService() {
            return (group.isEmpty() || group.equals("core")) && kind.equals("Service");
        }
    }

    /** What a rule does besides choosing a backend. */
    public sealed interface Filter {
        record RequestHeaders(HeaderEdit edit) implements Filter {}

        record ResponseHeaders(HeaderEdit edit) implements Filter {}

        /** The proxy answers with a redirect itself; unset parts keep the request's. */
        record Redirect(Optional<String> scheme, Optional<String> hostname, Optional<PathEdit> path, Optional<Integer> port, int status)
                implements Filter {}

        record Rewrite(Optional<String> hostname, Optional<PathEdit> path) implements Filter {}

        /** A copy of the request goes to {@code backend}, for {@code percent} of requests; its answer is dropped. */
        record Mirror(Backend backend, int percent) implements Filter {}
    }

    /**
     * When a request may go again: at most {@code attempts} more times, on these HTTP statuses
     * or gRPC codes (a connection failure always counts), each try within {@code perTry}.
     */
    public record Retry(int attempts, Set<Integer> httpStatuses, Set<Integer> grpcCodes, Optional<Duration> perTry) {
        public Retry {
            httpStatuses = Set.copyOf(httpStatuses);
            grpcCodes = Set.copyOf(grpcCodes);
        }
    }

    /**
     * One rule: the requests it takes, what it does to them, where they go, and their limits.
     *
     * @param index          its position in {@code spec.rules}
     * @param requestTimeout the whole request, retries included
     * @param backendTimeout each try
     */
    public record Rule(int index, Optional<String> name, List<Match> matches, List<Filter> filters, List<Backend> backends,
                       Optional<Duration> requestTimeout, Optional<Duration> backendTimeout, Optional<Retry> retry) {
        public Rule {
            matches = List.copyOf(matches);
            filters = List.copyOf(filters);
            backends = List.copyOf(backends);
        }
    }
}
