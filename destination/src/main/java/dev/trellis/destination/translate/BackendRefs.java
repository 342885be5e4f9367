package dev.trellis.destination.translate;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.routes.MeshRoute;
import io.fabric8.kubernetes.api.model.Service;
import java.util.Optional;

/**
 * Whether a route's backend can be sent to, decided once for both the proxies' profiles and
 * the route's status: a Service of the route's namespace that exists and has the port. A
 * reference to another namespace would need a ReferenceGrant, which is not read. Pure.
 */
final class BackendRefs {

    private BackendRefs() {
    }

    /** Why a backend cannot be sent to: the Gateway API's ResolvedRefs reason, and a message naming it. */
    record Problem(String reason, String message) {}

    static Optional<Problem> problem(ClusterSnapshot snapshot, MeshRoute route, MeshRoute.Backend backend) {
        String named = backend.kind() + " " + backend.ref();
        if (!backend.isService()) {
            return Optional.of(new Problem("InvalidKind", "backend " + (backend.group().isEmpty() ? "" : backend.group() + "/") + named
                    + ": only Services (group \"\", kind Service) are backends in the mesh"));
        }
        if (!backend.ref().namespace().equals(route.key().id().namespace())) {
            return Optional.of(new Problem("RefNotPermitted", "backend " + named
                    + ": a backend in another namespace needs a ReferenceGrant, which Trellis does not read yet"));
        }
        Optional<Service> service = snapshot.service(backend.ref());
        if (service.isEmpty()) {
            return Optional.of(new Problem("BackendNotFound", "backend " + named + " does not exist"));
        }
        int port = backend.port().orElseThrow();
        if (!hasPort(service.get(), port)) {
            return Optional.of(new Problem("BackendNotFound", "backend " + named + " has no port " + port));
        }
        return Optional.empty();
    }

    /** The authority the proxies send to, when the backend can be sent to. */
    static Optional<String> authority(ClusterSnapshot snapshot, MeshRoute route, MeshRoute.Backend backend, String clusterDomain) {
        if (problem(snapshot, route, backend).isPresent()) {
            return Optional.empty();
        }
        return Optional.of(backend.ref().name() + "." + backend.ref().namespace() + ".svc." + clusterDomain + ":" + backend.port().orElseThrow());
    }

    static boolean hasPort(Service service, int port) {
        return service.getSpec() != null && service.getSpec().getPorts() != null
                && service.getSpec().getPorts().stream().anyMatch(p -> p.getPort() != null && p.getPort() == port);
    }
}
