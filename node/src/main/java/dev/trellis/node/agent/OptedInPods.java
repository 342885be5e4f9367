package dev.trellis.node.agent;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.core.settings.ProxyMode;
import dev.trellis.node.handoff.HandoffMessage.PodRef;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pods of one node that asked for node mode, from the cluster state: scheduled on
 * {@code node} ({@code spec.nodeName}), annotated (or in a namespace annotated)
 * {@code config.trellis.dev/proxy-mode: node}, with an address and not finished or being
 * deleted. A pod whose annotation is not a mode is skipped with a warning, never served.
 */
public final class OptedInPods implements PodFeed {

    private static final Logger log = LoggerFactory.getLogger(OptedInPods.class);

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
            Map<String, String> namespaceAnnotations = snapshot.namespace(pod.getMetadata().getNamespace())
                    .map(Namespace::getMetadata).map(m -> m.getAnnotations()).orElse(Map.of());
            ProxyMode mode;
            try {
                mode = ProxyMode.of(pod.getMetadata().getAnnotations(), namespaceAnnotations);
            } catch (IllegalArgumentException e) {
                log.warn("node agent: pod {}/{} not served: its proxy mode {}", pod.getMetadata().getNamespace(), pod.getMetadata().getName(), e.getMessage());
                continue;
            }
            if (mode != ProxyMode.NODE) {
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
