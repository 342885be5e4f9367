package dev.trellis.identity.delegation;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Pods read from the API server when a node proxy asks (about once per pod and certificate
 * lifetime, behind the service's rate limits): no cluster-wide pod cache in the identity
 * service. A failed read is an exception, and the request is refused as unavailable.
 */
public final class ApiServerPods implements NodeDelegation.Pods {

    private final KubernetesClient client;

    public ApiServerPods(KubernetesClient client) {
        this.client = client;
    }

    @Override
    public Optional<Pod> pod(String namespace, String name) {
        return Optional.ofNullable(client.pods().inNamespace(namespace).withName(name).get());
    }

    @Override
    public List<Pod> onNode(String namespace, String node) {
        return client.pods().inNamespace(namespace).withField("spec.nodeName", node).list().getItems();
    }

    @Override
    public Map<String, String> namespaceAnnotations(String name) {
        Namespace namespace = client.namespaces().withName(name).get();
        return namespace == null || namespace.getMetadata().getAnnotations() == null ? Map.of() : namespace.getMetadata().getAnnotations();
    }
}
