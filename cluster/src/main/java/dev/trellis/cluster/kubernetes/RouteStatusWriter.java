package dev.trellis.cluster.kubernetes;

import dev.trellis.cluster.routes.MeshRoute;
import dev.trellis.cluster.routes.RouteStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRouteStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.ParentReferenceBuilder;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatus;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes Trellis's entries of {@code status.parents} on HTTPRoutes and GRPCRoutes through the
 * status subresource (the only write the destination service's RBAC grants). Each route is
 * written when what it should say differs from what was last written: read fresh, other
 * controllers' entries kept, ours replaced, a condition's {@code lastTransitionTime} kept while
 * its status stays the same. A write that fails is tried again after {@link #RETRY}. One
 * thread; the newest set of statuses replaces any not yet written.
 */
final class RouteStatusWriter implements RouteStatus.Sink {

    private static final Logger log = LoggerFactory.getLogger(RouteStatusWriter.class);
    static final Duration RETRY = Duration.ofSeconds(5);
    /** Longest condition message the API accepts. */
    static final int MAX_MESSAGE = 32_768;

    private final KubernetesClient client;
    private final Clock clock;
    private final ScheduledExecutorService writer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("trellis-route-status").daemon().factory());
    private final AtomicReference<List<RouteStatus>> pending = new AtomicReference<>();
    /** What was last written per route; touched by the writer thread only. */
    private final Map<MeshRoute.RouteKey, RouteStatus> written = new HashMap<>();

    RouteStatusWriter(KubernetesClient client, Clock clock) {
        this.client = client;
        this.clock = clock;
    }

    @Override
    public void publish(List<RouteStatus> statuses) {
        if (pending.getAndSet(List.copyOf(statuses)) == null) {
            writer.execute(this::writePending);
        }
    }

    private void writePending() {
        List<RouteStatus> statuses = pending.getAndSet(null);
        if (statuses == null) {
            return;
        }
        boolean failed = false;
        for (RouteStatus status : statuses) {
            if (status.equals(written.get(status.key()))) {
                continue;
            }
            try {
                write(status);
                written.put(status.key(), status);
            } catch (KubernetesClientException e) {
                failed = true;
                log.warn("route status: cannot write the status of {}: {}", status.key(), e.getMessage());
            }
        }
        if (failed && pending.compareAndSet(null, statuses)) {
            writer.schedule(this::writePending, RETRY.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void write(RouteStatus status) {
        String namespace = status.key().id().namespace();
        String name = status.key().id().name();
        switch (status.key().kind()) {
            case HTTP_ROUTE -> {
                HTTPRoute route = client.resources(HTTPRoute.class).inNamespace(namespace).withName(name).get();
                if (route == null) {
                    return;
                }
                HTTPRouteStatus current = route.getStatus() == null ? new HTTPRouteStatus() : route.getStatus();
                List<RouteParentStatus> parents = merged(current.getParents(), status);
                if (Objects.equals(parents, current.getParents())) {
                    return;
                }
                current.setParents(parents);
                route.setStatus(current);
                client.resources(HTTPRoute.class).inNamespace(namespace).resource(route).updateStatus();
            }
            case TCP_ROUTE -> {
                var route = client.resources(io.fabric8.kubernetes.api.model.gatewayapi.v1alpha2.TCPRoute.class).inNamespace(namespace).withName(name).get();
                if (route == null) {
                    return;
                }
                var current = route.getStatus() == null ? new io.fabric8.kubernetes.api.model.gatewayapi.v1alpha2.TCPRouteStatus() : route.getStatus();
                List<RouteParentStatus> parents = merged(current.getParents(), status);
                if (Objects.equals(parents, current.getParents())) {
                    return;
                }
                current.setParents(parents);
                route.setStatus(current);
                client.resources(io.fabric8.kubernetes.api.model.gatewayapi.v1alpha2.TCPRoute.class).inNamespace(namespace).resource(route).updateStatus();
            }
            case GRPC_ROUTE -> {
                GRPCRoute route = client.resources(GRPCRoute.class).inNamespace(namespace).withName(name).get();
                if (route == null) {
                    return;
                }
                GRPCRouteStatus current = route.getStatus() == null ? new GRPCRouteStatus() : route.getStatus();
                List<RouteParentStatus> parents = merged(current.getParents(), status);
                if (Objects.equals(parents, current.getParents())) {
                    return;
                }
                current.setParents(parents);
                route.setStatus(current);
                client.resources(GRPCRoute.class).inNamespace(namespace).resource(route).updateStatus();
            }
        }
        log.debug("route status: wrote {}", status.key());
    }

    /** Other controllers' entries as they are, then ours, one per Service parent. */
    private List<RouteParentStatus> merged(List<RouteParentStatus> current, RouteStatus status) {
        List<RouteParentStatus> out = new ArrayList<>();
        Map<String, RouteParentStatus> ours = new HashMap<>();
        for (RouteParentStatus entry : current == null ? List.<RouteParentStatus>of() : current) {
            if (RouteStatus.CONTROLLER.equals(entry.getControllerName())) {
                ours.put(parentKey(entry), entry);
            } else {
                out.add(entry);
            }
        }
        String now = Instant.now(clock).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        for (RouteStatus.Parent parent : status.parents()) {
            MeshRoute.ServiceParent ref = parent.parent();
            RouteParentStatus previous = ours.get(ref.service().namespace() + "/" + ref.service().name() + ":" + ref.port().orElse(0));
            List<Condition> conditions = new ArrayList<>();
            for (RouteStatus.Condition condition : parent.conditions()) {
                String statusText = condition.status() ? "True" : "False";
                String since = now;
                if (previous != null && previous.getConditions() != null) {
                    for (Condition old : previous.getConditions()) {
                        if (condition.type().equals(old.getType()) && statusText.equals(old.getStatus()) && old.getLastTransitionTime() != null) {
                            since = old.getLastTransitionTime();
                        }
                    }
                }
                String message = condition.message().length() > MAX_MESSAGE ? condition.message().substring(0, MAX_MESSAGE) : condition.message();
                conditions.add(new ConditionBuilder().withType(condition.type()).withStatus(statusText).withReason(condition.reason())
                        .withMessage(message).withObservedGeneration(status.generation()).withLastTransitionTime(since).build());
            }
            ParentReferenceBuilder parentRef = new ParentReferenceBuilder().withGroup("").withKind("Service")
                    .withNamespace(ref.service().namespace()).withName(ref.service().name());
            ref.port().ifPresent(parentRef::withPort);
            out.add(new RouteParentStatusBuilder().withControllerName(RouteStatus.CONTROLLER).withParentRef(parentRef.build())
                    .withConditions(conditions).build());
        }
        return out;
    }

    private static String parentKey(RouteParentStatus entry) {
        var ref = entry.getParentRef();
        return ref == null ? "" : ref.getNamespace() + "/" + ref.getName() + ":" + (ref.getPort() == null ? 0 : ref.getPort());
    }

    @Override
    public void close() {
        writer.shutdownNow();
    }
}
