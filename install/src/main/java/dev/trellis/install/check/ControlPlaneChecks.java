package dev.trellis.install.check;

import dev.trellis.cluster.policy.PolicyCrds;
import dev.trellis.core.version.TrellisVersion;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BiFunction;

/**
 * Is the control plane there as {@code trellis install} renders it: the namespace, the CRDs
 * at the version this CLI expects, every ServiceAccount, ClusterRole, ClusterRoleBinding,
 * NetworkPolicy, ConfigMap and Deployment it renders, and every Deployment available.
 */
final class ControlPlaneChecks {

    static final String HINT = "docs/install.md#check-control-plane";

    private ControlPlaneChecks() {
    }

    static CheckReport.Category run(KubernetesClient client, String namespace, List<HasMetadata> expected) {
        List<CheckResult> results = new ArrayList<>();
        if (client.namespaces().withName(namespace).get() == null) {
            results.add(CheckResult.error("control plane namespace exists", "no namespace " + namespace
                    + "; install with `trellis install | kubectl apply -f -` (or pass --namespace)", HINT));
            return new CheckReport.Category("control-plane", results);
        }
        results.add(CheckResult.ok("control plane namespace exists"));
        results.add(crds(client));
        results.add(present(client, expected, "ServiceAccount", "control plane ServiceAccounts exist",
                (name, ns) -> client.serviceAccounts().inNamespace(ns).withName(name).get()));
        results.add(present(client, expected, "ClusterRole", "control plane ClusterRoles exist",
                (name, ns) -> client.rbac().clusterRoles().withName(name).get()));
        results.add(present(client, expected, "ClusterRoleBinding", "control plane ClusterRoleBindings exist",
                (name, ns) -> client.rbac().clusterRoleBindings().withName(name).get()));
        results.add(present(client, expected, "NetworkPolicy", "control plane NetworkPolicies exist",
                (name, ns) -> client.network().v1().networkPolicies().inNamespace(ns).withName(name).get()));
        results.add(present(client, expected, "ConfigMap", "trust anchors ConfigMap exists",
                (name, ns) -> client.configMaps().inNamespace(ns).withName(name).get()));
        results.add(deployments(client, namespace, expected));
        return new CheckReport.Category("control-plane", results);
    }

    private static CheckResult crds(KubernetesClient client) {
        String description = "policy CRDs are installed with the version this CLI expects";
        List<String> problems = new ArrayList<>();
        for (CustomResourceDefinition wanted : PolicyCrds.all()) {
            String name = wanted.getMetadata().getName();
            CustomResourceDefinition found = client.apiextensions().v1().customResourceDefinitions().withName(name).get();
            if (found == null) {
                problems.add(name + " is missing");
                continue;
            }
            for (var version : wanted.getSpec().getVersions()) {
                boolean served = found.getSpec().getVersions().stream().anyMatch(v -> v.getName().equals(version.getName()) && Boolean.TRUE.equals(v.getServed()));
                if (!served) {
                    problems.add(name + " does not serve " + version.getName());
                }
            }
        }
        return problems.isEmpty() ? CheckResult.ok(description)
                : CheckResult.error(description, String.join("\n", problems) + "\napply them with `trellis install --crds | kubectl apply -f -`", HINT);
    }

    private static CheckResult present(KubernetesClient client, List<HasMetadata> expected, String kind, String description,
                                       BiFunction<String, String, Object> lookup) {
        List<String> missing = expected.stream().filter(o -> o.getKind().equals(kind))
                .filter(o -> lookup.apply(o.getMetadata().getName(), o.getMetadata().getNamespace()) == null)
                .map(o -> kind + " " + (o.getMetadata().getNamespace() == null ? "" : o.getMetadata().getNamespace() + "/") + o.getMetadata().getName())
                .toList();
        return missing.isEmpty() ? CheckResult.ok(description)
                : CheckResult.error(description, "missing: " + String.join(", ", missing) + "\nre-apply `trellis install`", HINT);
    }

    private static CheckResult deployments(KubernetesClient client, String namespace, List<HasMetadata> expected) {
        String description = "control plane Deployments are available";
        List<String> problems = new ArrayList<>();
        List<String> otherVersions = new ArrayList<>();
        for (HasMetadata object : expected) {
            if (!(object instanceof Deployment wanted)) {
                continue;
            }
            String name = wanted.getMetadata().getName();
            Deployment found = client.apps().deployments().inNamespace(wanted.getMetadata().getNamespace()).withName(name).get();
            if (found == null) {
                problems.add(name + " is missing");
                continue;
            }
            int replicas = found.getSpec().getReplicas() == null ? 1 : found.getSpec().getReplicas();
            int available = found.getStatus() == null || found.getStatus().getAvailableReplicas() == null ? 0 : found.getStatus().getAvailableReplicas();
            if (available < replicas) {
                problems.add(name + ": " + available + " of " + replicas + " replicas available");
            }
            String version = found.getMetadata().getLabels() == null ? null : found.getMetadata().getLabels().get("app.kubernetes.io/version");
            if (!Objects.equals(version, TrellisVersion.current())) {
                otherVersions.add(name + " is " + version);
            }
        }
        if (!problems.isEmpty()) {
            return CheckResult.error(description, String.join("\n", problems)
                    + "\nsee `kubectl -n " + namespace + " get pods` and the pods' events", HINT);
        }
        if (!otherVersions.isEmpty()) {
            return CheckResult.warning(description + " and run this CLI's version (" + TrellisVersion.current() + ")", String.join("\n", otherVersions), HINT);
        }
        return CheckResult.ok(description);
    }
}
