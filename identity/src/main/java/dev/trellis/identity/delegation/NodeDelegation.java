package dev.trellis.identity.delegation;

import static java.util.Objects.requireNonNull;

import dev.trellis.cluster.Workloads;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.settings.ProxyMode;
import dev.trellis.identity.auth.Caller;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;
import java.util.Optional;

/**
 * Whether a node proxy may have a certificate for another service account: only when the
 * caller is the node proxy's service account in the control plane's namespace, its token is
 * bound to a pod that exists, runs as that account and is scheduled on a node, and a pod of
 * the requested account is scheduled on that same node, is injected for node mode
 * ({@link Workloads#inNodeMode}) and is not finished or being deleted. Everything else is refused, with the reason for the audit log.
 * The node is read from the node proxy's own pod, never from anything the caller sends.
 */
public final class NodeDelegation {

    /** Where the pods are looked up: the cluster state, or the API server directly. Thread-safe. */
    public interface Pods {
        Optional<Pod> pod(String namespace, String name);

        /** Pods of {@code namespace} with {@code spec.nodeName} {@code node} (more is allowed: they are filtered again). */
        List<Pod> onNode(String namespace, String node);
    }

    private final String controlPlaneNamespace;
    private final Pods pods;

    public NodeDelegation(String controlPlaneNamespace, Pods pods) {
        this.controlPlaneNamespace = requireNonNull(controlPlaneNamespace, "controlPlaneNamespace");
        this.pods = requireNonNull(pods, "pods");
    }

    /** Whether {@code caller} is a node proxy at all (then {@link #refusal} decides). */
    public boolean isNodeProxy(WorkloadIdentity caller) {
        return caller.namespace().equals(controlPlaneNamespace) && caller.serviceAccount().equals(ProxyMode.NODE_PROXY_SERVICE_ACCOUNT);
    }

    /** Empty when {@code caller} may have {@code requested}; otherwise why not, naming both. */
    public Optional<String> refusal(Caller caller, WorkloadIdentity requested) {
        String who = caller.identity().shortName();
        if (!isNodeProxy(caller.identity())) {
            return Optional.of("token for " + who + " cannot request " + requested.shortName());
        }
        if (caller.pod().isEmpty()) {
            return Optional.of("node proxy token for " + who + " is bound to no pod, so its node is unknown; it cannot request " + requested.shortName());
        }
        Optional<Pod> own = pods.pod(controlPlaneNamespace, caller.pod().get());
        if (own.isEmpty()) {
            return Optional.of("node proxy pod " + controlPlaneNamespace + "/" + caller.pod().get() + " does not exist; it cannot request " + requested.shortName());
        }
        String ownAccount = own.get().getSpec().getServiceAccountName() == null ? "default" : own.get().getSpec().getServiceAccountName();
        if (!ownAccount.equals(caller.identity().serviceAccount())) {
            return Optional.of("pod " + controlPlaneNamespace + "/" + caller.pod().get() + " runs as sa/" + ownAccount + ", not as " + who);
        }
        String node = own.get().getSpec().getNodeName();
        if (node == null || node.isBlank()) {
            return Optional.of("node proxy pod " + controlPlaneNamespace + "/" + caller.pod().get() + " is not scheduled on a node yet");
        }
        boolean scheduled = pods.onNode(requested.namespace(), node).stream()
                .filter(pod -> node.equals(pod.getSpec().getNodeName()))
                .filter(pod -> requested.namespace().equals(pod.getMetadata().getNamespace()))
                .filter(pod -> requested.serviceAccount().equals(pod.getSpec().getServiceAccountName() == null ? "default" : pod.getSpec().getServiceAccountName()))
                .filter(pod -> pod.getMetadata().getDeletionTimestamp() == null)
                .filter(pod -> pod.getStatus() == null || !("Succeeded".equals(pod.getStatus().getPhase()) || "Failed".equals(pod.getStatus().getPhase())))
                .anyMatch(Workloads::inNodeMode);
        if (!scheduled) {
            return Optional.of("node proxy on node " + node + " cannot request " + requested.shortName() + ": no pod of that account in node mode is scheduled there");
        }
        return Optional.empty();
    }

}
