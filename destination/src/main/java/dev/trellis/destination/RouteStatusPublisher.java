package dev.trellis.destination;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.routes.RouteStatus;
import dev.trellis.destination.translate.LastGoodRoutes;
import dev.trellis.destination.translate.RouteStatuses;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells users what became of their Gateway API routes, on every snapshot: through the
 * source's status sink where it has one (Kubernetes: {@code status.parents}), and in the log
 * for every route refused, once per message (a manifest directory has nowhere else to say it).
 */
final class RouteStatusPublisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RouteStatusPublisher.class);

    private final LastGoodRoutes routes;
    private final Optional<RouteStatus.Sink> sink;
    private final AutoCloseable subscription;
    /** Refusals already logged; touched by the source's thread only. */
    private Set<String> logged = Set.of();

    RouteStatusPublisher(ClusterSource source, LastGoodRoutes routes) {
        this.routes = routes;
        this.sink = source.routeStatus();
        this.subscription = source.subscribe(this::publish);
        publish(source.current());
    }

    private synchronized void publish(ClusterSnapshot snapshot) {
        if (snapshot.generation() == 0) {
            return;
        }
        List<RouteStatus> statuses = RouteStatuses.of(snapshot, routes.of(snapshot));
        Set<String> refused = new HashSet<>();
        for (RouteStatus status : statuses) {
            for (RouteStatus.Parent parent : status.parents()) {
                for (RouteStatus.Condition condition : parent.conditions()) {
                    if (!condition.status()) {
                        refused.add(status.key() + " (" + condition.type() + " " + condition.reason() + "): " + condition.message());
                    }
                }
            }
        }
        for (String message : refused) {
            if (!logged.contains(message)) {
                log.warn("routes: {}", message);
            }
        }
        logged = refused;
        sink.ifPresent(s -> s.publish(statuses));
    }

    @Override
    public void close() {
        try {
            subscription.close();
        } catch (Exception e) {
            log.debug("routes: closing the snapshot subscription", e);
        }
    }
}
