package dev.trellis.cluster;

import dev.trellis.core.settings.ProxyMode;
import dev.trellis.core.sidecar.ProxyPorts;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** What Trellis reads off a Pod: whether it is meshed, its service account, where its proxy listens, the workload it belongs to. */
public final class Workloads {

    /** A pod whose proxy listens on this port of the pod's address (local mode: every workload on 127.0.0.1). */
    public static final String PROXY_INBOUND_PORT = "config.trellis.dev/proxy-inbound-port";
    /** The name of the proxy container the injector adds: its presence makes a pod meshed. */
    public static final String PROXY_CONTAINER = "trellis-proxy";
    /** The proxy's inbound port when the pod does not name one. */
    public static final int DEFAULT_PROXY_INBOUND_PORT = ProxyPorts.INBOUND;
    /** The init container that writes a meshed pod's iptables rules (proxy-init). */
    public static final String INIT_CONTAINER = "trellis-init";
    /** Where the pod's proxy serves tap (local mode); 4190 otherwise. */
    public static final String PROXY_TAP_PORT = "config.trellis.dev/proxy-tap-port";
    public static final int DEFAULT_PROXY_TAP_PORT = ProxyPorts.TAP;
    /** Ports (comma-separated) whose traffic is opaque TCP: no protocol detection, on either side. */
    public static final String OPAQUE_PORTS = "config.trellis.dev/opaque-ports";
    /** Ports (comma-separated) on which the app listens on loopback only. */
    public static final String LOOPBACK_PORTS = "config.trellis.dev/loopback-ports";

    private Workloads() {
    }

    /**
     * Meshed: the injector added the proxy container (or native sidecar); or, in node mode, it
     * added proxy-init and marked the pod {@code config.trellis.dev/proxy-mode: node} (its node's
     * proxy serves it); or (local mode) the pod names its proxy's inbound port.
     */
    public static boolean isMeshed(Pod pod) {
        return proxyContainer(pod.getSpec()).isPresent() || annotation(pod, PROXY_INBOUND_PORT).isPresent() || inNodeMode(pod);
    }

    /** Injected for node mode: proxy-init among its init containers, and the pod itself annotated for node mode. */
    public static boolean inNodeMode(Pod pod) {
        return annotation(pod, dev.trellis.core.metadata.MetadataKeys.PROXY_MODE).map(String::strip).filter(ProxyMode.NODE.toString()::equals).isPresent()
                && pod.getSpec() != null && pod.getSpec().getInitContainers() != null
                && pod.getSpec().getInitContainers().stream().anyMatch(c -> INIT_CONTAINER.equals(c.getName()));
    }

    /** The proxy container of a pod spec: a regular container, or a native sidecar (an init container that keeps running). */
    public static Optional<Container> proxyContainer(PodSpec spec) {
        if (spec == null) {
            return Optional.empty();
        }
        return named(spec.getContainers()).or(() -> named(spec.getInitContainers()));
    }

    private static Optional<Container> named(List<Container> containers) {
        return containers == null ? Optional.empty() : containers.stream().filter(c -> PROXY_CONTAINER.equals(c.getName())).findFirst();
    }

    public static String serviceAccount(Pod pod) {
        return pod.getSpec() == null || pod.getSpec().getServiceAccountName() == null ? "default" : pod.getSpec().getServiceAccountName();
    }

    /** The port the pod's proxy listens on for mesh traffic, if the pod names one. */
    public static Optional<Integer> proxyInboundPort(Pod pod) {
        return port(pod, PROXY_INBOUND_PORT);
    }

    /** The port the pod's proxy serves tap on. */
    public static int proxyTapPort(Pod pod) {
        return port(pod, PROXY_TAP_PORT).orElse(DEFAULT_PROXY_TAP_PORT);
    }

    private static Optional<Integer> port(Pod pod, String annotation) {
        return annotation(pod, annotation).flatMap(Workloads::parsePort);
    }

    private static Optional<Integer> parsePort(String text) {
        try {
            int port = Integer.parseInt(text.strip());
            return port >= 1 && port <= 65535 ? Optional.of(port) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * The ports a comma-separated port-list annotation of {@code object} names; entries that
     * are not ports 1-65535 are left out.
     */
    public static java.util.Set<Integer> portList(io.fabric8.kubernetes.api.model.HasMetadata object, String annotation) {
        Map<String, String> annotations = object.getMetadata() == null ? null : object.getMetadata().getAnnotations();
        String value = annotations == null ? null : annotations.get(annotation);
        if (value == null) {
            return java.util.Set.of();
        }
        java.util.Set<Integer> ports = new java.util.TreeSet<>();
        for (String entry : value.split(",", 1024)) {
            parsePort(entry).ifPresent(ports::add);
        }
        return java.util.Collections.unmodifiableSet(ports);
    }

    /** The controller that owns the pod (or the first owner). */
    public static Optional<OwnerReference> owner(Pod pod) {
        if (pod.getMetadata().getOwnerReferences() == null) {
            return Optional.empty();
        }
        return pod.getMetadata().getOwnerReferences().stream().filter(o -> Boolean.TRUE.equals(o.getController())).findFirst()
                .or(() -> pod.getMetadata().getOwnerReferences().stream().findFirst());
    }

    /** The workload a pod belongs to: the kind of controller that made it, and its name. */
    public record Workload(String kind, String name) {
        public static final String DEPLOYMENT = "Deployment";
        public static final String STATEFUL_SET = "StatefulSet";
        public static final String DAEMON_SET = "DaemonSet";
        public static final String JOB = "Job";
        public static final String CRON_JOB = "CronJob";
        public static final String POD = "Pod";
        /** Every kind, in the order pages list them. */
        public static final List<String> KINDS = List.of(DEPLOYMENT, STATEFUL_SET, DAEMON_SET, JOB, CRON_JOB, POD);
    }

    /**
     * The workload that owns {@code pod}, from its controller reference alone (no lookup): a
     * ReplicaSet's pods belong to the Deployment named by the ReplicaSet's name without its
     * {@code pod-template-hash} suffix (or its last {@code -segment}); StatefulSet, DaemonSet,
     * Job and CronJob owners are themselves; a pod without an owner is its own workload. A Job
     * made by a CronJob shows as the Job, since the pod does not name the CronJob.
     */
    public static Workload workload(Pod pod) {
        Optional<OwnerReference> owner = owner(pod);
        if (owner.isEmpty() || owner.get().getKind() == null || owner.get().getName() == null) {
            return new Workload(Workload.POD, pod.getMetadata().getName());
        }
        String name = owner.get().getName();
        return switch (owner.get().getKind()) {
            case "ReplicaSet" -> {
                Map<String, String> labels = pod.getMetadata().getLabels();
                String hash = labels == null ? null : labels.get("pod-template-hash");
                if (hash != null && name.endsWith("-" + hash)) {
                    yield new Workload(Workload.DEPLOYMENT, name.substring(0, name.length() - hash.length() - 1));
                }
                int dash = name.lastIndexOf('-');
                yield new Workload(Workload.DEPLOYMENT, dash > 0 ? name.substring(0, dash) : name);
            }
            case "Deployment" -> new Workload(Workload.DEPLOYMENT, name);
            case "StatefulSet" -> new Workload(Workload.STATEFUL_SET, name);
            case "DaemonSet" -> new Workload(Workload.DAEMON_SET, name);
            case "Job" -> new Workload(Workload.JOB, name);
            case "CronJob" -> new Workload(Workload.CRON_JOB, name);
            default -> new Workload(Workload.POD, pod.getMetadata().getName());
        };
    }

    private static Optional<String> annotation(Pod pod, String key) {
        Map<String, String> annotations = pod.getMetadata().getAnnotations();
        return Optional.ofNullable(annotations == null ? null : annotations.get(key));
    }
}
