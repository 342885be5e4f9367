package dev.trellis.destination.translate;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ObjectKey;
import dev.trellis.core.net.HostPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * What an authority names in the cluster: a Service port (by DNS name or cluster IP) or a pod
 * port (by pod IP). {@link #resolve} answers empty for anything else (an external host).
 */
public sealed interface Target {

    /** The annotation by which a Service (or a pod) is exported to other namespaces under strict visibility. */
    String VISIBLE_TO = "trellis.dev/visible-to";

    Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    /** The namespace the target lives in. */
    String namespace();

    /** The object whose {@value #VISIBLE_TO} annotation governs visibility. */
    HasMetadata object();

    int port();

    record ServicePort(Service service, int port) implements Target {
        public ObjectKey key() {
            return ObjectKey.of(service);
        }

        @Override
        public String namespace() {
            return service.getMetadata().getNamespace();
        }

        @Override
        public HasMetadata object() {
            return service;
        }
    }

    record PodPort(Pod pod, int port) implements Target {
        @Override
        public String namespace() {
            return pod.getMetadata().getNamespace();
        }

        @Override
        public HasMetadata object() {
            return pod;
        }
    }

    /**
     * Resolves {@code authority} ({@code host:port}): {@code svc.ns.svc.<clusterDomain>},
     * {@code svc.ns.svc}, {@code svc.ns}, a Service's cluster IP or a pod IP.
     *
     * @throws IllegalArgumentException when the authority is not {@code host:port}
     */
    static Optional<Target> resolve(ClusterSnapshot snapshot, String authority, String clusterDomain) {
        HostPort hostPort = HostPort.parse(authority);
        String host = hostPort.host().toLowerCase(java.util.Locale.ROOT);
        if (host.endsWith(".")) {
            host = host.substring(0, host.length() - 1);
        }
        int port = hostPort.port();
        if (IPV4.matcher(host).matches() || host.contains(":")) {
            String ip = host;
            Optional<Target> service = snapshot.serviceByClusterIp(ip).map(s -> new ServicePort(s, port));
            return service.or(() -> snapshot.podByIp(ip).map(p -> new PodPort(p, port)));
        }
        String[] labels = host.split("\\.");
        String suffix = "svc." + clusterDomain;
        boolean qualified = host.endsWith("." + suffix) && labels.length == 2 + suffix.split("\\.").length;
        boolean svcOnly = labels.length == 3 && labels[2].equals("svc");
        boolean short2 = labels.length == 2;
        if (!qualified && !svcOnly && !short2) {
            return Optional.empty();
        }
        return snapshot.service(new ObjectKey(labels[1], labels[0])).map(s -> new ServicePort(s, port));
    }

    /** Namespaces that {@code object} is exported to ({@code *} for all), from its {@value #VISIBLE_TO} annotation. */
    static Set<String> exportedTo(HasMetadata object) {
        Map<String, String> annotations = object.getMetadata().getAnnotations();
        String value = annotations == null ? null : annotations.get(VISIBLE_TO);
        if (value == null || value.isBlank()) {
            return Set.of();
        }
        return Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty()).collect(Collectors.toUnmodifiableSet());
    }
}
