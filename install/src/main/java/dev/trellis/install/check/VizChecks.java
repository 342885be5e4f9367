package dev.trellis.install.check;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The metrics API and the dashboard as {@code trellis install} renders them: the viz pod
 * serves the dashboard (its {@code --dashboard} listener), and viz's ClusterRole grants every
 * rule this CLI's install does — reading pods, Services and policy, and the dashboard's logins
 * (TokenReviews, SubjectAccessReviews). An installation from before the dashboard fails the
 * second until re-applied.
 */
final class VizChecks {

    static final String HINT = "docs/install.md#check-viz";
    private static final String DEPLOYMENT = "trellis-viz";

    private VizChecks() {
    }

    static CheckReport.Category run(KubernetesClient client, String namespace, List<HasMetadata> expected) {
        List<CheckResult> results = new ArrayList<>();
        results.add(dashboard(client, namespace));
        results.add(rules(client, expected));
        return new CheckReport.Category("viz", results);
    }

    private static CheckResult dashboard(KubernetesClient client, String namespace) {
        String description = "the viz pod serves the dashboard";
        Deployment viz = client.apps().deployments().inNamespace(namespace).withName(DEPLOYMENT).get();
        if (viz == null) {
            return CheckResult.error(description, "no Deployment " + namespace + "/" + DEPLOYMENT + "; re-apply `trellis install`", HINT);
        }
        boolean serves = viz.getSpec().getTemplate().getSpec().getContainers().stream()
                .anyMatch(c -> c.getArgs() != null && c.getArgs().contains("--dashboard"));
        return serves ? CheckResult.ok(description)
                : CheckResult.warning(description, DEPLOYMENT + " runs no --dashboard (installed before the dashboard?); re-apply `trellis install`", HINT);
    }

    private static CheckResult rules(KubernetesClient client, List<HasMetadata> expected) {
        String description = "viz's ClusterRole grants what the dashboard needs";
        Optional<ClusterRole> wanted = expected.stream().filter(ClusterRole.class::isInstance).map(ClusterRole.class::cast)
                .filter(r -> r.getMetadata().getName().endsWith("-viz")).findFirst();
        if (wanted.isEmpty()) {
            return CheckResult.ok(description);
        }
        ClusterRole found = client.rbac().clusterRoles().withName(wanted.get().getMetadata().getName()).get();
        if (found == null) {
            return CheckResult.error(description, "no ClusterRole " + wanted.get().getMetadata().getName() + "; re-apply `trellis install`", HINT);
        }
        List<String> missing = new ArrayList<>();
        for (PolicyRule rule : wanted.get().getRules()) {
            for (String group : rule.getApiGroups()) {
                for (String resource : rule.getResources()) {
                    for (String verb : rule.getVerbs()) {
                        boolean granted = found.getRules() != null && found.getRules().stream().anyMatch(r -> r.getApiGroups().contains(group)
                                && r.getResources().contains(resource) && r.getVerbs().contains(verb));
                        if (!granted) {
                            missing.add(verb + " " + (group.isEmpty() ? "" : group + "/") + resource);
                        }
                    }
                }
            }
        }
        return missing.isEmpty() ? CheckResult.ok(description)
                : CheckResult.error(description, "it does not grant: " + String.join(", ", missing) + "; re-apply `trellis install`", HINT);
    }
}
