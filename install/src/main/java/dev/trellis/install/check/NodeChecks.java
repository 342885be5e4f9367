package dev.trellis.install.check;

import dev.trellis.cluster.Workloads;
import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.install.ControlPlane;
import dev.trellis.core.metadata.MetadataKeys;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Node mode (docs/node-mode.md): when pods ask for it or it is installed, a node agent and a
 * node proxy run ready on every node, and every node-mode pod is on a node where both are
 * ready (else its traffic is refused: it fails closed, and this says why). A pod annotated for
 * node mode that was not injected runs unmeshed, and is named.
 */
final class NodeChecks {

    static final String HINT = "docs/install.md#check-node-mode";

    private NodeChecks() {
    }

    /** The node-mode category, or none when nothing asks for node mode and it is not installed. */
    static java.util.Optional<CheckReport.Category> run(KubernetesClient client, String namespace) {
        DaemonSet agents = client.apps().daemonSets().inNamespace(namespace).withName(ControlPlaneComponent.NODE_AGENT.serviceAccount()).get();
        DaemonSet proxies = client.apps().daemonSets().inNamespace(namespace).withName(ControlPlaneComponent.NODE_PROXY.serviceAccount()).get();
        List<Pod> pods = client.pods().inAnyNamespace().list().getItems();
        List<Pod> served = pods.stream().filter(Workloads::inNodeMode).filter(NodeChecks::running).toList();
        List<Pod> askedOnly = pods.stream().filter(p -> !Workloads.inNodeMode(p) && "node".equals(annotation(p, MetadataKeys.PROXY_MODE)))
                .filter(p -> !Workloads.isMeshed(p)).filter(NodeChecks::running).toList();
        if (agents == null && proxies == null && served.isEmpty() && askedOnly.isEmpty()) {
            return java.util.Optional.empty();
        }
        List<CheckResult> results = new ArrayList<>();
        results.add(everyNode("a node agent runs ready on every node", agents, namespace));
        results.add(everyNode("a node proxy runs ready on every node", proxies, namespace));
        results.add(servedPods(namespace, served, pods));
        if (!askedOnly.isEmpty()) {
            results.add(CheckResult.warning("pods that ask for node mode are meshed", askedOnly.size() + " are not (created before injection, or without "
                    + MetadataKeys.INJECT + "): " + names(askedOnly) + "; they run unmeshed until recreated", HINT));
        }
        return java.util.Optional.of(new CheckReport.Category("node-mode", results));
    }

    private static CheckResult everyNode(String description, DaemonSet set, String namespace) {
        if (set == null) {
            return CheckResult.error(description, "node mode is not installed in " + namespace + "; run `trellis install --node-mode`", HINT);
        }
        var status = set.getStatus();
        int desired = status == null || status.getDesiredNumberScheduled() == null ? 0 : status.getDesiredNumberScheduled();
        int ready = status == null || status.getNumberReady() == null ? 0 : status.getNumberReady();
        if (desired == 0) {
            return CheckResult.error(description, "DaemonSet " + namespace + "/" + set.getMetadata().getName() + " is scheduled on no node", HINT);
        }
        return ready >= desired ? CheckResult.ok(description + " (" + ready + ")")
                : CheckResult.error(description, ready + " of " + desired + " ready (DaemonSet " + namespace + "/" + set.getMetadata().getName() + ")", HINT);
    }

    /** Every node-mode pod is on a node where both the agent's and the proxy's pods are ready. */
    private static CheckResult servedPods(String namespace, List<Pod> served, List<Pod> pods) {
        String description = "every node-mode pod's node runs a ready node agent and node proxy";
        Set<String> agentNodes = readyNodes(pods, namespace, ControlPlane.nodePodSelector(true));
        Set<String> proxyNodes = readyNodes(pods, namespace, ControlPlane.nodePodSelector(false));
        List<Pod> unserved = served.stream().filter(p -> p.getSpec().getNodeName() == null
                || !agentNodes.contains(p.getSpec().getNodeName()) || !proxyNodes.contains(p.getSpec().getNodeName())).toList();
        if (unserved.isEmpty()) {
            return CheckResult.ok(description + " (" + served.size() + " pods)");
        }
        Map<String, List<String>> byNode = unserved.stream().collect(Collectors.groupingBy(p -> p.getSpec().getNodeName() == null ? "(unscheduled)"
                : p.getSpec().getNodeName(), java.util.TreeMap::new, Collectors.mapping(p -> p.getMetadata().getNamespace() + "/" + p.getMetadata().getName(),
                Collectors.toList())));
        return CheckResult.error(description, unserved.size() + " are not, and their connections are refused: " + byNode, HINT);
    }

    private static Set<String> readyNodes(List<Pod> pods, String namespace, Map<String, String> selector) {
        return pods.stream().filter(p -> namespace.equals(p.getMetadata().getNamespace()))
                .filter(p -> p.getMetadata().getLabels() != null && p.getMetadata().getLabels().entrySet().containsAll(selector.entrySet()))
                .filter(NodeChecks::ready).map(p -> p.getSpec().getNodeName()).filter(java.util.Objects::nonNull).collect(Collectors.toCollection(TreeSet::new));
    }

    private static boolean ready(Pod pod) {
        return pod.getStatus() != null && pod.getStatus().getConditions() != null
                && pod.getStatus().getConditions().stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    private static boolean running(Pod pod) {
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        return !"Succeeded".equals(phase) && !"Failed".equals(phase) && pod.getMetadata().getDeletionTimestamp() == null;
    }

    private static String annotation(Pod pod, String key) {
        return pod.getMetadata().getAnnotations() == null ? null : pod.getMetadata().getAnnotations().get(key);
    }

    private static String names(List<Pod> pods) {
        return pods.stream().limit(10).map(p -> p.getMetadata().getNamespace() + "/" + p.getMetadata().getName()).collect(Collectors.joining(", "))
                + (pods.size() > 10 ? ", …" : "");
    }
}
