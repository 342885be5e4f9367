package dev.trellis.destination.translate;

import com.google.protobuf.Duration;
import dev.trellis.api.destination.v1.Profile;
import dev.trellis.api.destination.v1.RequestMatch;
import dev.trellis.api.destination.v1.RetryBudget;
import dev.trellis.api.destination.v1.Route;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.policy.PolicyResources;
import java.util.Comparator;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The route profile of a Service port: from the Gateway API routes (HTTPRoute, GRPCRoute) whose
 * parent it is when there are any ({@link GatewayRouteRules}); otherwise from Trellis's own
 * HTTPRoutes ({@code policy.trellis.dev}). The Gateway API's win because they say more (where
 * traffic goes, not only how it is timed) and are what users of other meshes bring; mixing
 * both on one Service would make the order of rules from two APIs a guess. Pure.
 */
public final class Profiles {

    /** The kind profile routes from Trellis's own HTTPRoutes carry (metrics label {@code route_kind}). */
    public static final String TRELLIS_ROUTE_KIND = "TrellisRoute";

    private Profiles() {
    }

    /**
     * @param routes          the Gateway API routes in force ({@link LastGoodRoutes})
     * @param callerNamespace the namespace of the caller's identity, for consumer routes
     */
    public static Profile of(ClusterSnapshot snapshot, java.util.List<dev.trellis.cluster.routes.MeshRoute> routes, Optional<Target> target,
                             String callerNamespace, String clusterDomain) {
        Profile.Builder profile = Profile.newBuilder()
                .setRetryBudget(RetryBudget.newBuilder().setRetryRatio(0.2f).setMinRetriesPerSecond(10).setTtl(Duration.newBuilder().setSeconds(10)));
        if (target.isEmpty() || !(target.get() instanceof Target.ServicePort service)) {
            return profile.build();
        }
        profile.setFullyQualifiedName(service.service().getMetadata().getName() + "." + service.namespace() + ".svc." + clusterDomain);
        profile.setOpaqueProtocol(dev.trellis.cluster.Workloads.portList(service.service(), dev.trellis.cluster.Workloads.OPAQUE_PORTS).contains(service.port()));
        profile.addAllOpaqueBackends(GatewayRouteRules.opaqueBackends(snapshot, routes, service.key(), service.port(), callerNamespace, clusterDomain));
        java.util.List<Route> gateway = GatewayRouteRules.of(snapshot, routes, service.key(), service.port(), callerNamespace, clusterDomain);
        if (!gateway.isEmpty()) {
            return profile.addAllRoutes(gateway).build();
        }
        snapshot.httpRoutes().stream()
                .filter(route -> route.id().namespace().equals(service.namespace()) && route.parentKind().equals("Service")
                        && route.parentName().equals(service.service().getMetadata().getName())
                        && route.parentPort().map(p -> p == service.port()).orElse(true))
                .sorted(Comparator.comparing(PolicyResources.HttpRoute::id))
                .forEach(route -> {
                    for (PolicyResources.RouteRule rule : route.rules()) {
                        for (PolicyResources.RouteMatch match : rule.matches()) {
                            Route.Builder out = Route.newBuilder().setName(rule.name()).setIsRetryable(rule.retryable())
                                    .setKind(TRELLIS_ROUTE_KIND).setNamespace(route.id().namespace());
                            RequestMatch.Builder condition = RequestMatch.newBuilder().setMethod(match.method().orElse(""));
                            if (match.pathMatch() == PolicyResources.PathMatch.EXACT) {
                                condition.setPath(match.path());
                            } else {
                                condition.setPathRegex(Pattern.quote(match.path()) + ".*");
                            }
                            out.setCondition(condition);
                            rule.timeout().ifPresent(t -> out.setTimeout(Duration.newBuilder().setSeconds(t.getSeconds()).setNanos(t.getNano())));
                            profile.addRoutes(out);
                        }
                    }
                });
        return profile.build();
    }
}
