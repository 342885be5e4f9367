package dev.trellis.injector.webhook;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Namespaces' annotations from the API, each remembered for {@code ttlMillis} (a burst of pods
 * in one namespace asks once); at most 10,000 remembered. A namespace that cannot be read is
 * an error for the caller to turn into a denial, never silently "no annotations".
 */
public final class KubernetesNamespaces implements AdmissionHandler.NamespaceAnnotations {

    private static final int MAX_ENTRIES = 10_000;

    private record Entry(Map<String, String> annotations, long readAt) {}

    private final KubernetesClient client;
    private final long ttlMillis;
    private final Map<String, Entry> cache = new LinkedHashMap<>();

    public KubernetesNamespaces(KubernetesClient client, long ttlMillis) {
        this.client = client;
        this.ttlMillis = ttlMillis;
    }

    @Override
    public Map<String, String> of(String namespace) {
        long now = System.currentTimeMillis();
        synchronized (cache) {
            Entry entry = cache.get(namespace);
            if (entry != null && now - entry.readAt() < ttlMillis) {
                return entry.annotations();
            }
        }
        Namespace found = client.namespaces().withName(namespace).get();
        Map<String, String> annotations = found == null || found.getMetadata().getAnnotations() == null
                ? Map.of() : Map.copyOf(found.getMetadata().getAnnotations());
        synchronized (cache) {
            if (cache.size() >= MAX_ENTRIES) {
                cache.clear();
            }
            cache.put(namespace, new Entry(annotations, now));
        }
        return annotations;
    }
}
