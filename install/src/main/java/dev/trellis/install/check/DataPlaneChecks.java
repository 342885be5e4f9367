package dev.trellis.install.check;

import dev.trellis.cluster.Workloads;
import dev.trellis.core.version.TrellisVersion;
import dev.trellis.injector.Annotations;
import dev.trellis.injector.InjectorConfig;
import dev.trellis.injector.PodInjector;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * {@code trellis check --proxy}: the pods this control plane meshes (labelled by the injector
 * with its namespace), each with its proxy container ready — the proxy's {@code /ready}
 * fails without an unexpired certificate (or when renewals keep failing near its end), so
 * ready means certified — and running this CLI's version.
 * The kubelet's readiness is what the check reads: it asks no pod anything itself.
 */
final class DataPlaneChecks {

    static final String HINT = "docs/install.md#check-proxy";
    /** At most this many pods named in one detail line. */
    private static final int NAMED = 10;

    private DataPlaneChecks() {
    }

    static CheckReport.Category run(KubernetesClient client, String namespace) {
        List<Pod> meshed = client.pods().inAnyNamespace().withLabel(PodInjector.LABEL_CONTROL_PLANE_NS, namespace).list().getItems()
                .stream().filter(Workloads::isMeshed).filter(p -> !"Succeeded".equals(phase(p)) && !"Failed".equals(phase(p))).toList();
        List<CheckResult> results = new ArrayList<>();
        if (meshed.isEmpty()) {
            results.add(CheckResult.warning("meshed pods exist", "no running pod is meshed by the control plane in " + namespace
                    + "; label a namespace (kubectl label namespace NAME trellis.dev/inject=enabled) or run a workload through `trellis inject`", HINT));
            return new CheckReport.Category("data-plane", results);
        }
        results.add(CheckResult.ok("meshed pods exist (" + meshed.size() + ")"));
        List<String> notReady = meshed.stream().filter(p -> !proxyReady(p)).map(DataPlaneChecks::name).toList();
        results.add(notReady.isEmpty() ? CheckResult.ok("every meshed pod's proxy is ready")
                : CheckResult.error("every meshed pod's proxy is ready", "proxy not ready in " + named(notReady)
                        + "\nits /ready says why: kubectl logs POD -c " + PodInjector.PROXY_CONTAINER, HINT));
        String version = TrellisVersion.current();
        List<String> otherVersion = meshed.stream()
                .filter(p -> !version.equals(Optional.ofNullable(p.getMetadata().getAnnotations()).map(a -> a.get(Annotations.PROXY_VERSION)).orElse(null)))
                .map(p -> name(p) + " (" + Optional.ofNullable(p.getMetadata().getAnnotations()).map(a -> a.get(Annotations.PROXY_VERSION)).orElse("unknown") + ")")
                .toList();
        results.add(otherVersion.isEmpty() ? CheckResult.ok("every proxy runs this CLI's version (" + version + ")")
                : CheckResult.warning("every proxy runs this CLI's version (" + version + ")", "other versions: " + named(otherVersion)
                        + "\nrestart the workloads (kubectl rollout restart) to inject the current proxy", HINT));
        results.add(memoryLimits(meshed));
        results.add(declaredPorts(meshed, client.services().inAnyNamespace().list().getItems()));
        return new CheckReport.Category("data-plane", results);
    }

    /**
     * Each meshed pod declares some port: a container port, or a Service that selects it. A
     * proxy forwards inbound traffic only to declared ports (the destination service also counts
     * Servers and EndpointSlices naming the pod, which this does not read), so a pod that
     * declares none has every inbound connection refused ({@code tcp_refused_total{reason="undeclared_port"}}).
     */
    private static CheckResult declaredPorts(List<Pod> meshed, List<Service> services) {
        String title = "every meshed pod declares the ports it serves";
        List<String> none = new ArrayList<>();
        for (Pod pod : meshed) {
            boolean containerPort = Stream.concat(pod.getSpec().getContainers().stream(), pod.getSpec().getInitContainers() == null ? Stream.empty()
                            : pod.getSpec().getInitContainers().stream().filter(c -> "Always".equals(c.getRestartPolicy())))
                    .filter(c -> !PodInjector.PROXY_CONTAINER.equals(c.getName()))
                    .anyMatch(c -> c.getPorts() != null && !c.getPorts().isEmpty());
            Map<String, String> labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
            boolean selected = services.stream().filter(s -> pod.getMetadata().getNamespace().equals(s.getMetadata().getNamespace()))
                    .map(s -> s.getSpec() == null ? null : s.getSpec().getSelector())
                    .anyMatch(selector -> selector != null && !selector.isEmpty() && labels.entrySet().containsAll(selector.entrySet()));
            if (!containerPort && !selected) {
                none.add(name(pod));
            }
        }
        return none.isEmpty() ? CheckResult.ok(title) : CheckResult.warning(title, "no container port and no Service selecting them: " + named(none)
                + "\ntheir proxies refuse inbound connections to ports the pod does not declare (metric tcp_refused_total{reason=\"undeclared_port\"});"
                + " declare containerPort, or a Service or Server for the port", "docs/inject.md#declared-ports");
    }

    /**
     * Each proxy's memory limit, where it has one, at least {@link InjectorConfig.ProxyDefaults#LEAST_SAFE_MEMORY_LIMIT}:
     * the proxy's JVM caps are fixed, not derived from the limit, and a proxy under sustained
     * load holds more than an older default (192Mi) allowed.
     */
    private static CheckResult memoryLimits(List<Pod> meshed) {
        String least = InjectorConfig.ProxyDefaults.LEAST_SAFE_MEMORY_LIMIT;
        BigDecimal leastBytes = Quantity.getAmountInBytes(new Quantity(least));
        String title = "every proxy's memory limit is at least " + least;
        List<String> below = new ArrayList<>();
        for (Pod pod : meshed) {
            proxyMemoryLimit(pod).filter(limit -> Quantity.getAmountInBytes(limit).compareTo(leastBytes) < 0)
                    .ifPresent(limit -> below.add(name(pod) + " (" + limit + ")"));
        }
        return below.isEmpty() ? CheckResult.ok(title)
                : CheckResult.warning(title, "lower limits: " + named(below) + "\na proxy under sustained load can hold 180-240 MiB and be"
                        + " OOM-killed below it; set " + Annotations.PROXY_MEMORY_LIMIT + " (or drop it for the default) and restart the workloads", HINT);
    }

    /** The memory limit of the pod's proxy container, if it has one. */
    private static Optional<Quantity> proxyMemoryLimit(Pod pod) {
        return Workloads.proxyContainer(pod.getSpec()).map(Container::getResources).map(ResourceRequirements::getLimits)
                .map(limits -> limits.get("memory"));
    }

    /** The proxy's container status says ready: a regular container, or a native sidecar among the init containers. */
    static boolean proxyReady(Pod pod) {
        if (pod.getStatus() == null) {
            return false;
        }
        return Stream.concat(statuses(pod.getStatus().getContainerStatuses()), statuses(pod.getStatus().getInitContainerStatuses()))
                .filter(s -> PodInjector.PROXY_CONTAINER.equals(s.getName())).anyMatch(s -> Boolean.TRUE.equals(s.getReady()));
    }

    private static Stream<ContainerStatus> statuses(List<ContainerStatus> statuses) {
        return statuses == null ? Stream.empty() : statuses.stream();
    }

    private static String phase(Pod pod) {
        return pod.getStatus() == null ? null : pod.getStatus().getPhase();
    }

    private static String name(Pod pod) {
        return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
    }

    private static String named(List<String> names) {
        return String.join(", ", names.subList(0, Math.min(NAMED, names.size()))) + (names.size() > NAMED ? " and " + (names.size() - NAMED) + " more" : "");
    }
}
