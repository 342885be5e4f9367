package dev.trellis.cluster.local;

import dev.trellis.cluster.ClusterSnapshot;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What Kubernetes' EndpointSlice controller would write for a directory of manifests: for
 * each Service with a selector and no EndpointSlice of its own, slices of the Pods it
 * selects in its namespace (those with an IP; ready when Running), each Service port with
 * its target port resolved on the Pod (a number, or a named container port). Pods whose
 * target ports differ go into separate slices, as the controller does. Hand-written slices
 * win: a Service that has any is left alone. Pure.
 */
final class DerivedEndpointSlices {

    private DerivedEndpointSlices() {
    }

    static List<EndpointSlice> of(List<HasMetadata> objects) {
        Set<String> sliced = objects.stream().filter(EndpointSlice.class::isInstance).map(EndpointSlice.class::cast)
                .filter(s -> s.getMetadata().getLabels() != null && s.getMetadata().getLabels().get(ClusterSnapshot.SERVICE_NAME_LABEL) != null)
                .map(s -> s.getMetadata().getNamespace() + "/" + s.getMetadata().getLabels().get(ClusterSnapshot.SERVICE_NAME_LABEL))
                .collect(Collectors.toSet());
        List<Pod> pods = objects.stream().filter(Pod.class::isInstance).map(Pod.class::cast).toList();
        List<EndpointSlice> derived = new ArrayList<>();
        for (HasMetadata object : objects) {
            if (!(object instanceof Service service) || service.getSpec() == null || service.getSpec().getSelector() == null
                    || service.getSpec().getSelector().isEmpty() || service.getSpec().getPorts() == null) {
                continue;
            }
            String namespace = service.getMetadata().getNamespace();
            if (namespace == null || sliced.contains(namespace + "/" + service.getMetadata().getName())) {
                continue;
            }
            // Pods grouped by their resolved ports: one slice per distinct port list.
            Map<List<EndpointPort>, List<Endpoint>> byPorts = new LinkedHashMap<>();
            for (Pod pod : pods) {
                if (!namespace.equals(pod.getMetadata().getNamespace()) || !selects(service.getSpec().getSelector(), pod.getMetadata().getLabels())
                        || pod.getStatus() == null || pod.getStatus().getPodIP() == null) {
                    continue;
                }
                List<EndpointPort> ports = new ArrayList<>();
                for (ServicePort port : service.getSpec().getPorts()) {
                    targetPort(port, pod).ifPresent(number -> ports.add(new EndpointPortBuilder().withName(port.getName()).withPort(number)
                            .withProtocol(port.getProtocol() == null ? "TCP" : port.getProtocol()).build()));
                }
                boolean ready = "Running".equals(pod.getStatus().getPhase());
                byPorts.computeIfAbsent(ports, p -> new ArrayList<>()).add(new EndpointBuilder()
                        .withAddresses(pod.getStatus().getPodIP())
                        .withNewConditions().withReady(ready).endConditions()
                        .withNewTargetRef().withKind("Pod").withNamespace(namespace).withName(pod.getMetadata().getName()).endTargetRef()
                        .build());
            }
            int index = 0;
            for (var entry : byPorts.entrySet()) {
                derived.add(new EndpointSliceBuilder()
                        .withNewMetadata().withNamespace(namespace).withName(service.getMetadata().getName() + "-derived-" + index++)
                        .addToLabels(ClusterSnapshot.SERVICE_NAME_LABEL, service.getMetadata().getName())
                        .addToLabels("endpointslice.kubernetes.io/managed-by", "trellis-local")
                        .endMetadata()
                        .withAddressType("IPv4")
                        .withPorts(entry.getKey())
                        .withEndpoints(entry.getValue())
                        .build());
            }
        }
        return derived;
    }

    /** Every selector entry matches a label; an entry without a value (YAML like {@code {app:"web}}) matches nothing. */
    private static boolean selects(Map<String, String> selector, Map<String, String> labels) {
        return labels != null && selector.entrySet().stream().allMatch(e -> e.getValue() != null && e.getValue().equals(labels.get(e.getKey())));
    }

    /** The Service port's target on {@code pod}: a number, a named container port, or the port itself. */
    private static Optional<Integer> targetPort(ServicePort port, Pod pod) {
        IntOrString target = port.getTargetPort();
        if (target == null || (target.getIntVal() == null && target.getStrVal() == null)) {
            return Optional.ofNullable(port.getPort());
        }
        if (target.getIntVal() != null) {
            return Optional.of(target.getIntVal());
        }
        if (pod.getSpec() == null || pod.getSpec().getContainers() == null) {
            return Optional.empty();
        }
        for (Container container : pod.getSpec().getContainers()) {
            for (ContainerPort containerPort : container.getPorts() == null ? List.<ContainerPort>of() : container.getPorts()) {
                if (target.getStrVal().equals(containerPort.getName())) {
                    return Optional.ofNullable(containerPort.getContainerPort());
                }
            }
        }
        return Optional.empty();
    }
}
