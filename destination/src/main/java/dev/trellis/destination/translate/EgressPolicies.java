package dev.trellis.destination.translate;

import com.google.protobuf.Duration;
import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.EgressRule;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.policy.PolicyResources;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.Comparator;
import java.util.List;

/**
 * A pod's egress policy: every EgressPolicy of its namespace whose selector picks it, merged.
 * The strictest mode wins (allow-list over deny-list over audit); rules are the union. No
 * policy at all means nothing is blocked (mode deny, no rules). Pure.
 */
public final class EgressPolicies {

    /** How long a proxy keeps a policy in force when the control plane is unreachable. */
    static final long STALE_AFTER_SECONDS = 300;

    private EgressPolicies() {
    }

    public static EgressPolicy of(ClusterSnapshot snapshot, Pod pod) {
        List<PolicyResources.EgressPolicy> matching = snapshot.egressPolicies().stream()
                .filter(p -> p.id().namespace().equals(pod.getMetadata().getNamespace()) && p.podSelector().matches(pod.getMetadata().getLabels()))
                .sorted(Comparator.comparing(PolicyResources.EgressPolicy::id))
                .toList();
        EgressPolicy.Builder out = EgressPolicy.newBuilder().setStaleAfter(Duration.newBuilder().setSeconds(STALE_AFTER_SECONDS));
        if (matching.isEmpty()) {
            return out.setMode(EgressPolicy.Mode.DENY).putLabels("name", "none").build();
        }
        boolean allowList = matching.stream().anyMatch(p -> p.mode() == PolicyResources.EgressMode.ALLOW);
        boolean denyList = matching.stream().anyMatch(p -> p.mode() == PolicyResources.EgressMode.DENY);
        out.setMode(allowList ? EgressPolicy.Mode.ALLOW : denyList ? EgressPolicy.Mode.DENY : EgressPolicy.Mode.AUDIT);
        out.putLabels("name", String.join(",", matching.stream().map(p -> p.id().name()).toList()));
        for (PolicyResources.EgressPolicy policy : matching) {
            policy.allow().forEach(rule -> out.addAllow(rule(rule)));
            policy.deny().forEach(rule -> out.addDeny(rule(rule)));
        }
        return out.build();
    }

    private static EgressRule rule(PolicyResources.EgressRule rule) {
        EgressRule.Builder out = EgressRule.newBuilder().addAllPorts(rule.ports().stream().sorted().toList());
        rule.host().ifPresent(out::setHost);
        rule.cidr().ifPresent(out::setCidr);
        return out.build();
    }
}
