package dev.trellis.destination.translate;

import com.google.protobuf.ByteString;
import dev.trellis.api.destination.v1.ProtocolHint;
import dev.trellis.api.destination.v1.TcpAddress;
import dev.trellis.api.destination.v1.TlsIdentity;
import dev.trellis.api.destination.v1.WeightedAddr;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.Workloads;
import dev.trellis.core.identity.WorkloadIdentity;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The endpoints of a {@link Target}: ready addresses of the Service's EndpointSlices (or the
 * one pod), each with its mesh identity (from the pod's service account), protocol hint,
 * proxy inbound port and labels. Pure.
 */
public final class Endpoints {

    private Endpoints() {
    }

    /** The endpoint set: whether the target exists, its addresses keyed by {@code ip:port}, and set-wide labels. */
    public record Set(boolean exists, Map<String, WeightedAddr> addresses, Map<String, String> labels) {
        public static final Set UNKNOWN = new Set(false, Map.of(), Map.of());
    }

    public static Set of(ClusterSnapshot snapshot, Optional<Target> target, String trustDomain) {
        if (target.isEmpty()) {
            return Set.UNKNOWN;
        }
        return switch (target.get()) {
            case Target.PodPort p -> {
                Map<String, WeightedAddr> one = new LinkedHashMap<>();
                address(p.pod(), p.port(), Optional.empty(), trustDomain).ifPresent(a -> one.put(key(a), a));
                yield new Set(true, one, Map.of("namespace", p.namespace()));
            }
            case Target.ServicePort s -> servicePort(snapshot, s, trustDomain);
        };
    }

    private static Set servicePort(ClusterSnapshot snapshot, Target.ServicePort target, String trustDomain) {
        Service service = target.service();
        Map<String, String> labels = Map.of("namespace", target.namespace(), "service", service.getMetadata().getName());
        Optional<ServicePort> port = service.getSpec() == null || service.getSpec().getPorts() == null ? Optional.empty()
                : service.getSpec().getPorts().stream().filter(p -> p.getPort() != null && p.getPort() == target.port()).findFirst();
        if (port.isEmpty()) {
            return new Set(true, Map.of(), labels);
        }
        String portName = port.get().getName() == null ? "" : port.get().getName();
        Map<String, WeightedAddr> addresses = new LinkedHashMap<>();
        for (EndpointSlice slice : snapshot.endpointSlices(target.key())) {
            if (slice.getEndpoints() == null || slice.getPorts() == null) {
                continue;
            }
            Optional<Integer> slicePort = slice.getPorts().stream()
                    .filter(p -> portName.equals(p.getName() == null ? "" : p.getName()))
                    .map(EndpointPort::getPort).filter(java.util.Objects::nonNull).findFirst();
            if (slicePort.isEmpty()) {
                continue;
            }
            for (Endpoint endpoint : slice.getEndpoints()) {
                boolean ready = endpoint.getConditions() == null || endpoint.getConditions().getReady() == null || endpoint.getConditions().getReady();
                if (!ready || endpoint.getAddresses() == null || endpoint.getAddresses().isEmpty()) {
                    continue;
                }
                String ip = endpoint.getAddresses().getFirst();
                Optional<Pod> pod = Optional.ofNullable(endpoint.getTargetRef())
                        .filter(ref -> "Pod".equals(ref.getKind()))
                        .flatMap(ref -> snapshot.pod(new ObjectKey(ref.getNamespace() == null ? target.namespace() : ref.getNamespace(), ref.getName())));
                Optional<WeightedAddr> addr = pod.isPresent()
                        ? address(pod.get(), slicePort.get(), Optional.of(ip), trustDomain).map(a -> withService(a, service, slicePort.get()))
                        : plain(ip, slicePort.get());
                addr.ifPresent(a -> addresses.put(key(a), a));
            }
        }
        return new Set(true, addresses, labels);
    }

    /** A Service may mark ports opaque for all its pods. */
    private static WeightedAddr withService(WeightedAddr addr, Service service, int port) {
        if (Workloads.portList(service, Workloads.OPAQUE_PORTS).contains(port)) {
            return addr.toBuilder().setProtocolHint(ProtocolHint.newBuilder().setProtocol(ProtocolHint.Protocol.OPAQUE)).build();
        }
        return addr;
    }

    private static Optional<WeightedAddr> address(Pod pod, int port, Optional<String> ip, String trustDomain) {
        String address = ip.orElseGet(() -> pod.getStatus() == null ? null : pod.getStatus().getPodIP());
        if (address == null) {
            return Optional.empty();
        }
        Optional<WeightedAddr> plain = plain(address, port);
        if (plain.isEmpty()) {
            return plain;
        }
        WeightedAddr.Builder builder = plain.get().toBuilder()
                .putMetricLabels("pod", pod.getMetadata().getName());
        Workloads.owner(pod).ifPresent(owner -> builder.putMetricLabels("owner_kind", owner.getKind().toLowerCase(java.util.Locale.ROOT))
                .putMetricLabels("owner_name", owner.getName()));
        if (Workloads.isMeshed(pod)) {
            String account = Workloads.serviceAccount(pod);
            WorkloadIdentity identity = new WorkloadIdentity(trustDomain, pod.getMetadata().getNamespace(), account);
            builder.setTlsIdentity(TlsIdentity.newBuilder().setSpiffeId(identity.spiffeId()).setDnsName(identity.dnsName()))
                    .putMetricLabels("serviceaccount", account)
                    .setProtocolHint(ProtocolHint.newBuilder().setProtocol(Workloads.portList(pod, Workloads.OPAQUE_PORTS).contains(port)
                            ? ProtocolHint.Protocol.OPAQUE : ProtocolHint.Protocol.H2));
            Workloads.proxyInboundPort(pod).ifPresent(builder::setProxyInboundPort);
        }
        return Optional.of(builder.build());
    }

    private static Optional<WeightedAddr> plain(String ip, int port) {
        try {
            if (!Target.IPV4.matcher(ip).matches() && !ip.contains(":")) {
                return Optional.empty();
            }
            byte[] bytes = InetAddress.getByName(ip).getAddress();
            return Optional.of(WeightedAddr.newBuilder()
                    .setAddr(TcpAddress.newBuilder().setIp(ByteString.copyFrom(bytes)).setPort(port))
                    .setWeight(1).build());
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    /** {@code ip:port} of an address, the key of adds and removes. */
    public static String key(WeightedAddr addr) {
        return key(addr.getAddr());
    }

    public static String key(TcpAddress addr) {
        try {
            return InetAddress.getByAddress(addr.getIp().toByteArray()).getHostAddress() + ":" + addr.getPort();
        } catch (UnknownHostException e) {
            return addr.getIp().toStringUtf8() + ":" + addr.getPort();
        }
    }
}
