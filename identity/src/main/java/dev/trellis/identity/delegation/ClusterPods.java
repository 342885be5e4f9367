package dev.trellis.identity.delegation;

import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.ObjectKey;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;
import java.util.Optional;

/** Pods from the cluster state the identity service already watches (local mode, and tests). */
public final class ClusterPods implements NodeDelegation.Pods {

    private final ClusterSource source;

    public ClusterPods(ClusterSource source) {
        this.source = source;
    }

    @Override
    public Optional<Pod> pod(String namespace, String name) {
        return source.current().pod(new ObjectKey(namespace, name));
    }

    @Override
    public List<Pod> onNode(String namespace, String node) {
        return source.current().pods().stream()
                .filter(p -> namespace.equals(p.getMetadata().getNamespace()) && p.getSpec() != null && node.equals(p.getSpec().getNodeName()))
                .toList();
    }
}
