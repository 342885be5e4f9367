package dev.trellis.identity.delegation;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
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
        // The namespace's pods, filtered here (NodeDelegation filters by node again): a field selector is not served by every
        // API server the tests stand in with, and a request for a certificate is rare (one per pod per renewal).
        return client.pods().inNamespace(namespace).list().getItems().stream()
                .filter(p -> p.getSpec() != null && node.equals(p.getSpec().getNodeName())).toList();
    }
}
