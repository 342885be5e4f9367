package dev.trellis.node.agent;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.Workloads;
import dev.trellis.node.handoff.HandoffMessage.PodRef;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The pods of one node that are injected for node mode ({@link Workloads#inNodeMode}: annotated
 * {@code config.trellis.dev/proxy-mode: node} and given proxy-init by the injector), from the
 * cluster state: scheduled on {@code node} ({@code spec.nodeName}), with an address, and not
 * finished or being deleted.
 */
public final class OptedInPods implements PodFeed {

    private final ClusterSource source;
    private final String node;

    public OptedInPods(ClusterSource source, String node) {
        this.source = source;
        this.node = node;
    }

    @Override
    public Map<String, PodRef> current() {
        return of(source.current(), node);
    }

    @Override
    public AutoCloseable subscribe(Consumer<Map<String, PodRef>> changed) {
        return source.subscribe(snapshot -> changed.accept(of(snapshot, node)));
    }

    /** The pods of {@code snapshot} that {@code node}'s proxy serves, by uid. */
    static Map<String, PodRef> of(ClusterSnapshot snapshot, String node) {
        Map<String, PodRef> pods = new LinkedHashMap<>();
        for (Pod pod : snapshot.pods()) {
            if (pod.getSpec() == null || !node.equals(pod.getSpec().getNodeName()) || pod.getMetadata().getDeletionTimestamp() != null) {
                continue;
            }
            String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
            String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
            if (ip == null || ip.isBlank() || "Succeeded".equals(phase) || "Failed".equals(phase)) {
                continue;
            }
            // Injected for node mode (proxy-init wrote its redirection), not merely annotated: the listeners go where traffic is sent to them.
            if (!Workloads.inNodeMode(pod)) {
                continue;
            }
            String serviceAccount = pod.getSpec().getServiceAccountName() == null ? "default" : pod.getSpec().getServiceAccountName();
            pods.put(pod.getMetadata().getUid(), new PodRef(pod.getMetadata().getUid(), pod.getMetadata().getNamespace(), pod.getMetadata().getName(),
                    serviceAccount, ip));
        }
        return pods;
    }

    @Override
    public void close() {
        // the source is the caller's
    }
}
