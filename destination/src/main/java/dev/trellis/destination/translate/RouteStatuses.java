package dev.trellis.destination.translate;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.routes.GatewayRoutes;
import dev.trellis.cluster.routes.MeshRoute;
import dev.trellis.cluster.routes.RouteStatus;
import io.fabric8.kubernetes.api.model.Service;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What every Gateway API route on a Service should say in its status: per Service parent,
 * {@code Accepted} (the route is carried out, or why not: a field the mesh cannot carry out,
 * or a parent that does not exist) and {@code ResolvedRefs} (every backend can be sent to, or
 * the first that cannot and why). A refused route's message says whether an earlier version
 * stays in force. Pure.
 */
public final class RouteStatuses {

    public static final String ACCEPTED = "Accepted";
    public static final String RESOLVED_REFS = "ResolvedRefs";

    private RouteStatuses() {
    }

    /** @param inForce the routes in force ({@link LastGoodRoutes#of}), which tells whether a refused route still has a good version */
    public static List<RouteStatus> of(ClusterSnapshot snapshot, List<MeshRoute> inForce) {
        List<RouteStatus> out = new ArrayList<>();
        for (MeshRoute route : snapshot.meshRoutes()) {
            List<RouteStatus.Parent> parents = new ArrayList<>();
            RouteStatus.Condition resolved = resolvedRefs(snapshot, route);
            for (MeshRoute.ServiceParent parent : route.parents()) {
                parents.add(new RouteStatus.Parent(parent, List.of(accepted(snapshot, parent), resolved)));
            }
            out.add(new RouteStatus(route.key(), route.generation(), parents));
        }
        for (GatewayRoutes.Parsed.Rejected rejected : snapshot.rejectedRoutes()) {
            boolean keptOlder = inForce.stream().anyMatch(r -> r.key().equals(rejected.key()));
            String message = rejected.message() + (keptOlder ? "; the last version that could be carried out stays in force"
                    : "; the route does nothing until this is fixed");
            List<RouteStatus.Parent> parents = new ArrayList<>();
            for (MeshRoute.ServiceParent parent : rejected.parents()) {
                parents.add(new RouteStatus.Parent(parent, List.of(new RouteStatus.Condition(ACCEPTED, false, rejected.reason(), message))));
            }
            out.add(new RouteStatus(rejected.key(), rejected.generation(), parents));
        }
        return out;
    }

    private static RouteStatus.Condition accepted(ClusterSnapshot snapshot, MeshRoute.ServiceParent parent) {
        Optional<Service> service = snapshot.service(parent.service());
        if (service.isEmpty()) {
            return new RouteStatus.Condition(ACCEPTED, false, "NoMatchingParent", "Service " + parent.service() + " does not exist");
        }
        if (parent.port().isPresent() && !BackendRefs.hasPort(service.get(), parent.port().get())) {
            return new RouteStatus.Condition(ACCEPTED, false, "NoMatchingParent", "Service " + parent.service() + " has no port " + parent.port().get());
        }
        return new RouteStatus.Condition(ACCEPTED, true, "Accepted", "carried out by the mesh's proxies for calls to Service " + parent.service());
    }

    private static RouteStatus.Condition resolvedRefs(ClusterSnapshot snapshot, MeshRoute route) {
        for (MeshRoute.Rule rule : route.rules()) {
            List<MeshRoute.Backend> backends = new ArrayList<>(rule.backends());
            rule.filters().stream().filter(f -> f instanceof MeshRoute.Filter.Mirror).map(f -> ((MeshRoute.Filter.Mirror) f).backend()).forEach(backends::add);
            for (MeshRoute.Backend backend : backends) {
                Optional<BackendRefs.Problem> problem = BackendRefs.problem(snapshot, route, backend);
                if (problem.isPresent()) {
                    return new RouteStatus.Condition(RESOLVED_REFS, false, problem.get().reason(), "spec.rules[" + rule.index() + "]: "
                            + problem.get().message() + "; its share of requests is answered 500");
                }
            }
        }
        return new RouteStatus.Condition(RESOLVED_REFS, true, "ResolvedRefs", "every backend is a Service the mesh can send to");
    }
}
