package dev.trellis.destination.translate;

import dev.trellis.api.policy.v1.DeclaredPort;
import dev.trellis.api.policy.v1.WorkloadPorts;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.Workloads;
import dev.trellis.cluster.policy.PolicyResources;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The ports a pod declares, the only ones its proxy's inbound side forwards to (an outside
 * review reached a proxy's own listeners, and through them other workloads as that proxy's
 * workload, by naming undeclared ports): its app containers' TCP ports, and the ports of the
 * Servers that select it. A port the pod marks loopback-only
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

    private static List<Integer> containerPorts(Pod pod) {
        List<Integer> ports = new ArrayList<>();
        if (pod.getSpec() == null || pod.getSpec().getContainers() == null) {
            return ports;
        }
        for (Container container : pod.getSpec().getContainers()) {
            if (Workloads.PROXY_CONTAINER.equals(container.getName()) || container.getPorts() == null) {
                continue;
            }
            for (ContainerPort port : container.getPorts()) {
                boolean tcp = port.getProtocol() == null || port.getProtocol().equals("TCP");
                if (tcp && port.getContainerPort() != null && port.getContainerPort() >= 1 && port.getContainerPort() <= 65535) {
                    ports.add(port.getContainerPort());
                }
            }
        }
        return ports;
    }
}
