package dev.trellis.destination.translate;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.routes.GatewayRoutes;
import dev.trellis.cluster.routes.MeshRoute;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Gateway API routes in force: every route the mesh can carry out, and for a route whose
 * newest version it cannot, the last version it could (so a bad edit changes nothing until it
 * is fixed; its status says why). A route deleted is forgotten. Thread-safe; one per
 * destination service, asked with every snapshot and computed once per snapshot generation.
 */
public final class LastGoodRoutes {

    private final Map<MeshRoute.RouteKey, MeshRoute> lastGood = new HashMap<>();
    private long generation = -1;
    private List<MeshRoute> inForce = List.of();

    /** The routes in force for {@code snapshot}. */
    public synchronized List<MeshRoute> of(ClusterSnapshot snapshot) {
        if (snapshot.generation() == generation) {
            return inForce;
        }
        Map<MeshRoute.RouteKey, MeshRoute> now = new HashMap<>();
        for (MeshRoute route : snapshot.meshRoutes()) {
            now.put(route.key(), route);
        }
        for (GatewayRoutes.Parsed.Rejected rejected : snapshot.rejectedRoutes()) {
            MeshRoute previous = lastGood.get(rejected.key());
            if (previous != null) {
                now.put(rejected.key(), previous);
            }
        }
        lastGood.clear();
        lastGood.putAll(now);
        generation = snapshot.generation();
        inForce = now.values().stream().sorted(java.util.Comparator.comparing(MeshRoute::key)).toList();
        return inForce;
    }
}
