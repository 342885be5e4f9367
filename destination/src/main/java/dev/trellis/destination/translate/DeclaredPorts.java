package dev.trellis.destination.translate;

import dev.trellis.api.policy.v1.DeclaredPort;
import dev.trellis.api.policy.v1.WorkloadPorts;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.Workloads;
import dev.trellis.cluster.policy.PolicyResources;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import dev.trellis.cluster.ObjectKey;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The ports a pod declares, the only ones its proxy's inbound side forwards to (an outside
 * review reached a proxy's own listeners, and through them other workloads as that proxy's
 * workload, by naming undeclared ports): its app containers' (and app native sidecars') TCP
 * ports; the target ports of the Services that select it, and the ports of EndpointSlices
 * that name it — Kubernetes does not require {@code containerPort}, and a Service that sends
 * traffic to a port says it is served there; and the ports of the Servers that select it.
 * A port the pod marks loopback-only
 * ({@value Workloads#LOOPBACK_PORTS}) is declared only when a Server covers it — an explicit
 * policy for an app that trusts its loopback — and then flagged so that the proxy forwards to
 * 127.0.0.1. The proxy's own container is never a source of ports. Pure.
 */
public final class DeclaredPorts {

    private DeclaredPorts() {
    }

    public static WorkloadPorts of(ClusterSnapshot snapshot, Pod pod) {
        Map<String, Integer> named = InboundPolicies.namedPorts(pod);
        Set<Integer> byServer = new TreeSet<>();
        for (PolicyResources.Server server : snapshot.servers()) {
            if (server.id().namespace().equals(pod.getMetadata().getNamespace()) && server.podSelector().matches(pod.getMetadata().getLabels())) {
                server.port().number().or(() -> server.port().name().map(named::get)).ifPresent(byServer::add);
            }
        }
        Set<Integer> ports = new TreeSet<>(containerPorts(pod));
        ports.addAll(servicePorts(snapshot, pod, named));
        ports.addAll(byServer);
        Set<Integer> loopback = Workloads.portList(pod, Workloads.LOOPBACK_PORTS);
        WorkloadPorts.Builder out = WorkloadPorts.newBuilder();
        for (int port : ports) {
            boolean loopbackOnly = loopback.contains(port);
            if (loopbackOnly && !byServer.contains(port)) {
                continue;
            }
            out.addPorts(DeclaredPort.newBuilder().setPort(port).setLoopback(loopbackOnly));
        }
        return out.build();
    }

    /**
     * The TCP ports Services of the pod's namespace send to it: each port's {@code targetPort}
     * (a number, a container port's name, or — absent — the port itself) of a Service whose
     * selector matches the pod's labels, and the ports of EndpointSlices with an endpoint whose
     * {@code targetRef} is the pod (Services without a selector).
     */
    static Set<Integer> servicePorts(ClusterSnapshot snapshot, Pod pod, Map<String, Integer> named) {
        String namespace = pod.getMetadata().getNamespace();
        Map<String, String> labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
        Set<Integer> ports = new TreeSet<>();
        for (Service service : snapshot.services()) {
            if (!namespace.equals(service.getMetadata().getNamespace())) {
                continue;
            }
            Map<String, String> selector = service.getSpec() == null ? null : service.getSpec().getSelector();
            if (selector != null && !selector.isEmpty() && labels.entrySet().containsAll(selector.entrySet()) && service.getSpec().getPorts() != null) {
                for (ServicePort port : service.getSpec().getPorts()) {
                    IntOrString target = port.getTargetPort();
                    Integer number = target == null ? port.getPort() : target.getIntVal() != null ? target.getIntVal() : named.get(target.getStrVal());
                    if (tcp(port.getProtocol()) && number != null) {
                        ports.add(number);
                    }
                }
            }
            for (EndpointSlice slice : snapshot.endpointSlices(ObjectKey.of(service))) {
                boolean namesThePod = slice.getEndpoints() != null && slice.getEndpoints().stream().map(Endpoint::getTargetRef)
                        .anyMatch(ref -> ref != null && "Pod".equals(ref.getKind()) && pod.getMetadata().getName().equals(ref.getName())
                                && (ref.getNamespace() == null || namespace.equals(ref.getNamespace())));
                if (namesThePod && slice.getPorts() != null) {
                    for (EndpointPort port : slice.getPorts()) {
                        if (tcp(port.getProtocol()) && port.getPort() != null) {
                            ports.add(port.getPort());
                        }
                    }
                }
            }
        }
        ports.removeIf(port -> port < 1 || port > 65535);
        return ports;
    }

    private static boolean tcp(String protocol) {
        return protocol == null || protocol.equals("TCP");
    }

    private static List<Integer> containerPorts(Pod pod) {
        List<Integer> ports = new ArrayList<>();
        if (pod.getSpec() == null || pod.getSpec().getContainers() == null) {
            return ports;
        }
        List<Container> serving = new ArrayList<>(pod.getSpec().getContainers());
        if (pod.getSpec().getInitContainers() != null) {
            // Native sidecars of the app keep running, and may serve.
            pod.getSpec().getInitContainers().stream().filter(c -> "Always".equals(c.getRestartPolicy())).forEach(serving::add);
        }
        for (Container container : serving) {
            if (Workloads.PROXY_CONTAINER.equals(container.getName()) || container.getPorts() == null) {
                continue;
            }
            for (ContainerPort port : container.getPorts()) {
                boolean tcp = tcp(port.getProtocol());
                if (tcp && port.getContainerPort() != null && port.getContainerPort() >= 1 && port.getContainerPort() <= 65535) {
                    ports.add(port.getContainerPort());
                }
            }
        }
        return ports;
    }
}
