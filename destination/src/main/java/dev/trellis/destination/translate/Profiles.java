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

/** The route profile of a Service port, from the HTTPRoutes whose parent it is. Pure. */
public final class Profiles {

    private Profiles() {
    }

    public static Profile of(ClusterSnapshot snapshot, Optional<Target> target, String clusterDomain) {
        Profile.Builder profile = Profile.newBuilder()
                .setRetryBudget(RetryBudget.newBuilder().setRetryRatio(0.2f).setMinRetriesPerSecond(10).setTtl(Duration.newBuilder().setSeconds(10)));
        if (target.isEmpty() || !(target.get() instanceof Target.ServicePort service)) {
            return profile.build();
        }
        profile.setFullyQualifiedName(service.service().getMetadata().getName() + "." + service.namespace() + ".svc." + clusterDomain);
        profile.setOpaqueProtocol(dev.trellis.cluster.Workloads.portList(service.service(), dev.trellis.cluster.Workloads.OPAQUE_PORTS).contains(service.port()));
        snapshot.httpRoutes().stream()
                .filter(route -> route.id().namespace().equals(service.namespace()) && route.parentKind().equals("Service")
                        && route.parentName().equals(service.service().getMetadata().getName())
                        && route.parentPort().map(p -> p == service.port()).orElse(true))
                .sorted(Comparator.comparing(PolicyResources.HttpRoute::id))
                .forEach(route -> {
                    for (PolicyResources.RouteRule rule : route.rules()) {
                        for (PolicyResources.RouteMatch match : rule.matches()) {
                            Route.Builder out = Route.newBuilder().setName(rule.name()).setIsRetryable(rule.retryable());
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
