package dev.trellis.cluster.routes;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * What the mesh says of one Gateway API route, per Service parent: the route's
 * {@code status.parents} entries that Trellis owns ({@value #CONTROLLER}), so that
 * {@code kubectl get httproute -o yaml} tells a user why a route does nothing. Immutable.
 *
 * @param generation the route's {@code metadata.generation} the conditions were computed from
 */
public record RouteStatus(MeshRoute.RouteKey key, long generation, List<Parent> parents) {

    /** The {@code controllerName} of Trellis's entries. */
    public static final String CONTROLLER = "trellis.dev/destination";
    /** What writing it takes, and all the destination service may write: {@code update} on these subresources of {@value GatewayRoutes#GROUP}. */
    public static final List<String> STATUS_SUBRESOURCES = List.of("httproutes/status", "grpcroutes/status", "tcproutes/status");

    public RouteStatus {
        requireNonNull(key, "key");
        parents = List.copyOf(parents);
    }

    /** A condition as the Gateway API names it: {@code type} Accepted or ResolvedRefs, with its reason and message. */
    public record Condition(String type, boolean status, String reason, String message) {}

    /** One Service parent and its conditions. */
    public record Parent(MeshRoute.ServiceParent parent, List<Condition> conditions) {
        public Parent {
            conditions = List.copyOf(conditions);
        }
    }

    /**
     * Where route status is written: the Kubernetes source writes it on the routes; a local
     * directory has nowhere to write it (the destination service's log says it instead).
     */
    public interface Sink extends AutoCloseable {
        /** The status every route should have now; routes not listed are left alone. Never blocks. */
        void publish(List<RouteStatus> statuses);

        @Override
        void close();
    }

    /** The condition of {@code type}, if present. */
    public Optional<Condition> condition(int parentIndex, String type) {
        return parents.stream().filter(p -> p.parent().index() == parentIndex).flatMap(p -> p.conditions().stream())
                .filter(c -> c.type().equals(type)).findFirst();
    }
}
