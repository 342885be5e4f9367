package dev.trellis.injector;

import dev.trellis.cluster.Workloads;
import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.metadata.MetadataKeys;
import dev.trellis.core.settings.ProxyMode;
import dev.trellis.core.sidecar.ProxyEnvironment;
import dev.trellis.core.sidecar.ProxyPorts;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The one pod mutation: the webhook and {@code trellis inject --manual} both call it. It adds
 * proxy-init (an init container running {@code trellis init} as root with only NET_ADMIN and
 * NET_RAW) and the proxy (uid 2102, non-root, read-only root, no capabilities, no privilege
 * escalation, a projected service-account token for the identity service mounted into it
 * alone, its settings as {@code TRELLIS_PROXY_*} environment, admin on loopback, probes on a
 * probe-only listener) — as a native sidecar (an init container that keeps running, so Jobs
 * finish) where the cluster has them, else as the first container with a postStart hook that
 * holds the app back until the proxy is ready. The app's own init containers run meshed after
 * the native sidecar, or, in the first-container form, where no proxy runs yet, before
 * proxy-init's redirect. Pure: no I/O.
 */
public final class PodInjector {

    public static final String PROXY_CONTAINER = Workloads.PROXY_CONTAINER;
    public static final String INIT_CONTAINER = Workloads.INIT_CONTAINER;
    /** Label on injected pods: which control plane meshes them (for selectors, viz and check). */
    public static final String LABEL_CONTROL_PLANE_NS = MetadataKeys.CONTROL_PLANE_NS;

    static final int INBOUND_PORT = ProxyPorts.INBOUND;
    static final int OUTBOUND_PORT = ProxyPorts.OUTBOUND;
    static final int ADMIN_PORT = ProxyPorts.ADMIN;
    static final int PROBE_PORT = ProxyPorts.PROBES;
    static final int TAP_PORT = ProxyPorts.TAP;
    static final String TOKEN_DIR = "/var/run/secrets/trellis";
    static final String TOKEN_FILE = TOKEN_DIR + "/identity-token";
    /** An hour: the kubelet renews it at 80 %, and the proxy reads it at every renewal. */
    static final long TOKEN_SECONDS = 3600;
    static final String VOLUME_TOKEN = "trellis-identity-token";
    static final String VOLUME_PROXY_TMP = "trellis-proxy-tmp";
    static final String VOLUME_INIT_RUN = "trellis-init-run";
    static final String VOLUME_INIT_TMP = "trellis-init-tmp";
    /** The image's JVM and distribution, for the postStart hook (images/Dockerfile lays them out so). */
    static final List<String> AWAIT = List.of("/opt/java/bin/java", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-Xmx32m",
            "-cp", "/opt/trellis/trellis-cli.jar:/opt/trellis/lib/*", "dev.trellis.cli.Main", "await");

    /** What happened to a pod, and what the user should be told about it (admission warnings). */
    public sealed interface Decision {
        List<String> warnings();

        /** The mutated pod. */
        record Injected(Pod pod, List<String> warnings) implements Decision {
            public Injected {
                warnings = List.copyOf(warnings);
            }
        }

        /** Left alone: why, as a metric label, and in words. */
        record Skipped(SkipReason reason, String detail, List<String> warnings) implements Decision {
            public Skipped {
                warnings = List.copyOf(warnings);
            }
        }
    }

    /** Why a pod was left alone. */
    public enum SkipReason {
        NO_SPEC, ALREADY_INJECTED, HOST_NETWORK, CONTROL_PLANE_NAMESPACE, NOT_OPTED_IN, DISABLED;

        /** The metric label: the name in lower case. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final InjectorConfig config;

    public PodInjector(InjectorConfig config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    /**
     * Injects {@code pod} of {@code namespace} when its labels or annotations (or its
     * namespace's) ask for it; {@code force} injects unless it must not be (already injected,
     * host network, control-plane namespace) — {@code trellis inject --manual}. A pod that
     * asked to be meshed and is not (host network) is told so in a warning.
     *
     * @throws Annotations.InvalidAnnotationException naming a label or annotation whose value does not parse
     */
    public Decision inject(Pod pod, NamespaceMetadata namespace, boolean force) throws Annotations.InvalidAnnotationException {
        Map<String, String> podAnnotations = pod.getMetadata() == null || pod.getMetadata().getAnnotations() == null
                ? Map.of() : pod.getMetadata().getAnnotations();
        Map<String, String> podLabels = pod.getMetadata() == null || pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
        Annotations.Settings settings = Annotations.Settings.of(namespace, podLabels, podAnnotations, config);
        List<String> warnings = new ArrayList<>(settings.warnings());
        boolean asked = force || settings.inject().orElse(false);
        Optional<Decision.Skipped> unmeshable = unmeshable(pod.getSpec(), asked, warnings);
        if (unmeshable.isPresent()) {
            return unmeshable.get();
        }
        PodSpec spec = pod.getSpec();
        if (config.namespace().equals(namespace.name())) {
            return new Decision.Skipped(SkipReason.CONTROL_PLANE_NAMESPACE, "pod of the control-plane namespace " + namespace.name(), warnings);
        }
        if (settings.inject().isEmpty() && !force) {
            return new Decision.Skipped(SkipReason.NOT_OPTED_IN, "not labelled or annotated " + Annotations.INJECT + ": enabled (pod or namespace)",
                    warnings);
        }
        if (settings.inject().isPresent() && !settings.inject().get()) {
            return new Decision.Skipped(SkipReason.DISABLED, Annotations.INJECT + ": disabled", warnings);
        }
        if (declaredPorts(spec).isEmpty()) {
            warnings.add("trellis: the pod declares no container ports; its proxy refuses inbound connections to ports the pod does not declare, "
                    + "unless a Service selecting the pod names them as targetPort (docs/inject.md, \"Declared ports\")");
        }
        return new Decision.Injected(mutate(pod, settings), warnings);
    }

    /**
     * Why a pod with {@code spec} cannot be meshed whatever it asks — no spec, a proxy already
     * there, the host's network — or empty; a pod that {@code asked} and cannot be is told why
     * in {@code warnings}. Shared with {@code trellis inject}, which then leaves the pod unmarked.
     */
    public static Optional<Decision.Skipped> unmeshable(PodSpec spec, boolean asked, List<String> warnings) {
        if (spec == null) {
            return Optional.of(new Decision.Skipped(SkipReason.NO_SPEC, "the pod has no spec", warnings));
        }
        if (isInjected(spec)) {
            return Optional.of(new Decision.Skipped(SkipReason.ALREADY_INJECTED, "already injected (it has a " + PROXY_CONTAINER + " container)", warnings));
        }
        if (containers(spec.getInitContainers()).stream().anyMatch(c -> INIT_CONTAINER.equals(c.getName()))) {
            return Optional.of(new Decision.Skipped(SkipReason.ALREADY_INJECTED, "already injected for node mode (it has a " + INIT_CONTAINER + " init container)",
                    warnings));
        }
        if (Boolean.TRUE.equals(spec.getHostNetwork())) {
            String detail = "hostNetwork pod: proxy-init would redirect the node's traffic";
            List<String> told = new ArrayList<>(warnings);
            if (asked) {
                told.add("trellis: not meshed: " + detail);
            }
            return Optional.of(new Decision.Skipped(SkipReason.HOST_NETWORK, detail, told));
        }
        return Optional.empty();
    }

    /** The container ports the pod's containers (and native sidecars) declare. */
    static List<Integer> declaredPorts(PodSpec spec) {
        return java.util.stream.Stream.concat(containers(spec.getContainers()).stream(), containers(spec.getInitContainers()).stream())
                .flatMap(c -> c.getPorts() == null ? java.util.stream.Stream.empty() : c.getPorts().stream())
                .map(io.fabric8.kubernetes.api.model.ContainerPort::getContainerPort).filter(Objects::nonNull).toList();
    }

    /** True when the pod already carries a proxy, as a container or a native sidecar. */
    public static boolean isInjected(PodSpec spec) {
        return Workloads.proxyContainer(spec).isPresent();
    }

    /** Undoes {@link #inject}: the two containers, their volumes, and what the injector wrote on the pod. */
    public static Pod uninject(Pod pod) {
        PodBuilder out = new PodBuilder(pod);
        PodSpec spec = pod.getSpec();
        if (spec != null) {
            out.editSpec()
                    .withContainers(containers(spec.getContainers()).stream().filter(c -> !isOurs(c.getName())).toList())
                    .withInitContainers(containers(spec.getInitContainers()).stream().filter(c -> !isOurs(c.getName())).toList())
                    .withVolumes((spec.getVolumes() == null ? List.<Volume>of() : spec.getVolumes()).stream()
                            .filter(v -> !v.getName().startsWith("trellis-")).toList())
                    .endSpec();
        }
        if (pod.getMetadata() != null) {
            Map<String, String> annotations = new LinkedHashMap<>(pod.getMetadata().getAnnotations() == null ? Map.of() : pod.getMetadata().getAnnotations());
            annotations.remove(Annotations.PROXY_VERSION);
            annotations.remove(Annotations.INJECT);
            Map<String, String> labels = new LinkedHashMap<>(pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels());
            labels.remove(LABEL_CONTROL_PLANE_NS);
            labels.remove(MetadataKeys.INJECT);
            out.editMetadata().withAnnotations(annotations).withLabels(labels).endMetadata();
        }
        return out.build();
    }

    private Pod mutate(Pod pod, Annotations.Settings settings) {
        if (settings.proxyMode() == ProxyMode.NODE) {
            return mutateForNodeMode(pod, settings);
        }
        PodSpec spec = pod.getSpec();
        Container proxy = proxy(settings);
        Container init = proxyInit(settings);
        List<Container> inits = new ArrayList<>();
        List<Container> containers = new ArrayList<>();
        if (settings.nativeSidecar()) {
            // The app's init containers run meshed: after the redirect, with the proxy up and ready.
            inits.add(init);
            inits.add(new ContainerBuilder(proxy).withRestartPolicy("Always")
                    .withStartupProbe(probe("/ready", 1, 120)).build());
            inits.addAll(containers(spec.getInitContainers()));
            containers.addAll(containers(spec.getContainers()));
        } else {
            // No proxy runs until the regular containers start, so the app's init containers run before the
            // redirect, with the network they had before injection (a StatefulSet cloning from a peer, a fetch).
            inits.addAll(containers(spec.getInitContainers()));
            inits.add(init);
            List<String> await = new ArrayList<>(AWAIT);
            await.addAll(List.of("http://127.0.0.1:" + ADMIN_PORT + "/ready", "--timeout", "120s"));
            containers.add(new ContainerBuilder(proxy).withNewLifecycle().withNewPostStart().withNewExec().withCommand(await)
                    .endExec().endPostStart().endLifecycle().build());
            containers.addAll(containers(spec.getContainers()));
        }
        List<Volume> volumes = new ArrayList<>(spec.getVolumes() == null ? List.of() : spec.getVolumes());
        volumes.add(new VolumeBuilder().withName(VOLUME_TOKEN).withNewProjected().addNewSource().withNewServiceAccountToken()
                .withAudience(ControlPlaneComponent.IDENTITY_TOKEN_AUDIENCE).withExpirationSeconds(TOKEN_SECONDS).withPath("identity-token")
                .endServiceAccountToken().endSource().endProjected().build());
        volumes.add(memoryVolume(VOLUME_PROXY_TMP, "16Mi"));
        volumes.add(memoryVolume(VOLUME_INIT_RUN, "1Mi"));
        volumes.add(memoryVolume(VOLUME_INIT_TMP, "16Mi"));
        return new PodBuilder(pod)
                .editOrNewMetadata()
                    .addToAnnotations(Annotations.PROXY_VERSION, config.version())
                    .addToLabels(LABEL_CONTROL_PLANE_NS, config.namespace())
                .endMetadata()
                .editSpec()
                    .withInitContainers(inits)
                    .withContainers(containers)
                    .withVolumes(volumes)
                .endSpec()
                .build();
    }

    /**
     * A node-mode pod gets proxy-init only: its traffic is redirected to listeners that the node
     * agent makes inside it and the node proxy serves (docs/node-mode.md). No sidecar, no token:
     * the node proxy asks for the pod's identity with its own. Until the node proxy serves the
     * pod, the redirected connections are refused: no plaintext way out.
     */
    private Pod mutateForNodeMode(Pod pod, Annotations.Settings settings) {
        PodSpec spec = pod.getSpec();
        List<Container> inits = new ArrayList<>(containers(spec.getInitContainers()));
        inits.add(proxyInit(settings));
        List<Volume> volumes = new ArrayList<>(spec.getVolumes() == null ? List.of() : spec.getVolumes());
        volumes.add(memoryVolume(VOLUME_INIT_RUN, "1Mi"));
        volumes.add(memoryVolume(VOLUME_INIT_TMP, "16Mi"));
        return new PodBuilder(pod)
                .editOrNewMetadata()
                    .addToAnnotations(Annotations.PROXY_VERSION, config.version())
                    .addToAnnotations(MetadataKeys.PROXY_MODE, ProxyMode.NODE.toString())
                    .addToLabels(LABEL_CONTROL_PLANE_NS, config.namespace())
                .endMetadata()
                .editSpec()
                    .withInitContainers(inits)
                    .withVolumes(volumes)
                .endSpec()
                .build();
    }

    private Container proxy(Annotations.Settings settings) {
        List<EnvVar> env = new ArrayList<>();
        env.add(field("TRELLIS_POD_NAMESPACE", "metadata.namespace"));
        env.add(field("TRELLIS_POD_NAME", "metadata.name"));
        env.add(field("TRELLIS_POD_SERVICE_ACCOUNT", "spec.serviceAccountName"));
        // $(VAR) refers to the variables above: the kubelet expands them.
        env.add(value(ProxyEnvironment.IDENTITY, "spiffe://" + config.trustDomain() + "/ns/$(TRELLIS_POD_NAMESPACE)/sa/$(TRELLIS_POD_SERVICE_ACCOUNT)"));
        env.add(value(ProxyEnvironment.WORKLOAD, "$(TRELLIS_POD_NAME)"));
        env.add(value(ProxyEnvironment.TRUST_ANCHORS_PEM, config.trustAnchorsPem()));
        env.add(value(ProxyEnvironment.TOKEN_FILE, TOKEN_FILE));
        env.add(value(ProxyEnvironment.IDENTITY_ADDR, config.serviceAddress(ControlPlaneComponent.IDENTITY, 8080)));
        env.add(value(ProxyEnvironment.IDENTITY_NAME, config.identityOf(ControlPlaneComponent.IDENTITY).spiffeId()));
        env.add(value(ProxyEnvironment.DESTINATION_ADDR, config.serviceAddress(ControlPlaneComponent.DESTINATION, 8086)));
        env.add(value(ProxyEnvironment.DESTINATION_NAME, config.identityOf(ControlPlaneComponent.DESTINATION).spiffeId()));
        env.add(value(ProxyEnvironment.VIZ_NAME, config.identityOf(ControlPlaneComponent.VIZ).spiffeId()));
        env.add(value(ProxyEnvironment.INBOUND, "0.0.0.0:" + INBOUND_PORT));
        env.add(value(ProxyEnvironment.OUTBOUND, "127.0.0.1:" + OUTBOUND_PORT));
        env.add(value(ProxyEnvironment.ADMIN, "127.0.0.1:" + ADMIN_PORT));
        env.add(value(ProxyEnvironment.PROBE, "0.0.0.0:" + PROBE_PORT));
        env.add(value(ProxyEnvironment.TAP, "0.0.0.0:" + TAP_PORT));
        env.add(value(ProxyEnvironment.CONNECTION_LOG, "-"));
        settings.opaquePorts().ifPresent(ports -> env.add(value(ProxyEnvironment.OPAQUE_PORTS, join(ports))));
        settings.defaultInboundPolicy().ifPresent(policy -> env.add(value(ProxyEnvironment.DEFAULT_INBOUND_POLICY, policy)));
        // The JVM reads this itself; slf4j-simple takes its level from it.
        env.add(value("JAVA_TOOL_OPTIONS", "-Dorg.slf4j.simpleLogger.defaultLogLevel=" + settings.logLevel()));
        ResourceRequirementsBuilder resources = new ResourceRequirementsBuilder()
                .addToRequests("cpu", new Quantity(settings.cpuRequest()))
                .addToRequests("memory", new Quantity(settings.memoryRequest()))
                .addToLimits("memory", new Quantity(settings.memoryLimit()));
        settings.cpuLimit().ifPresent(limit -> resources.addToLimits("cpu", new Quantity(limit)));
        return new ContainerBuilder()
                .withName(PROXY_CONTAINER)
                .withImage(config.proxyImage())
                .withImagePullPolicy(config.imagePullPolicy())
                .withArgs("proxy")
                .withEnv(env)
                .addNewPort().withName("trellis-proxy").withContainerPort(INBOUND_PORT).withProtocol("TCP").endPort()
                .addNewPort().withName("trellis-tap").withContainerPort(TAP_PORT).withProtocol("TCP").endPort()
                .addNewPort().withName("trellis-probe").withContainerPort(PROBE_PORT).withProtocol("TCP").endPort()
                .withReadinessProbe(probe("/ready", 5, 3))
                .withLivenessProbe(probe("/live", 10, 6))
                .withResources(resources.build())
                .withVolumeMounts(
                        new VolumeMountBuilder().withName(VOLUME_TOKEN).withMountPath(TOKEN_DIR).withReadOnly(true).build(),
                        new VolumeMountBuilder().withName(VOLUME_PROXY_TMP).withMountPath("/tmp").build())
                .withNewSecurityContext()
                    .withRunAsUser(InjectorConfig.PROXY_UID)
                    .withRunAsGroup(InjectorConfig.PROXY_UID)
                    .withRunAsNonRoot(true)
                    .withReadOnlyRootFilesystem(true)
                    .withAllowPrivilegeEscalation(false)
                    .withNewCapabilities().withDrop("ALL").endCapabilities()
                    .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                .endSecurityContext()
                .build();
    }

    private Container proxyInit(Annotations.Settings settings) {
        List<String> args = new ArrayList<>(List.of("init",
                "--inbound-port", String.valueOf(INBOUND_PORT),
                "--outbound-port", String.valueOf(OUTBOUND_PORT),
                "--proxy-uid", String.valueOf(InjectorConfig.PROXY_UID)));
        if (!settings.skipInboundPorts().isEmpty()) {
            args.addAll(List.of("--skip-inbound-ports", join(settings.skipInboundPorts())));
        }
        if (!settings.skipOutboundPorts().isEmpty()) {
            args.addAll(List.of("--skip-outbound-ports", join(settings.skipOutboundPorts())));
        }
        if (!settings.skipOutboundSubnets().isEmpty()) {
            args.addAll(List.of("--skip-outbound-subnets", settings.skipOutboundSubnets().stream().map(Object::toString).collect(Collectors.joining(","))));
        }
        return new ContainerBuilder()
                .withName(INIT_CONTAINER)
                .withImage(config.proxyInitImage())
                .withImagePullPolicy(config.imagePullPolicy())
                .withArgs(args)
                .withResources(new ResourceRequirementsBuilder()
                        .addToRequests("cpu", new Quantity("10m")).addToRequests("memory", new Quantity("96Mi"))
                        .addToLimits("memory", new Quantity("96Mi")).build())
                .withVolumeMounts(
                        new VolumeMountBuilder().withName(VOLUME_INIT_RUN).withMountPath("/run").build(),
                        new VolumeMountBuilder().withName(VOLUME_INIT_TMP).withMountPath("/tmp").build())
                .withNewSecurityContext()
                    .withRunAsUser(0L)
                    .withRunAsGroup(0L)
                    .withRunAsNonRoot(false)
                    .withReadOnlyRootFilesystem(true)
                    .withAllowPrivilegeEscalation(false)
                    .withPrivileged(false)
                    .withNewCapabilities().withAdd("NET_ADMIN", "NET_RAW").withDrop("ALL").endCapabilities()
                    .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                .endSecurityContext()
                .build();
    }

    private static Probe probe(String path, int periodSeconds, int failureThreshold) {
        return new ProbeBuilder().withNewHttpGet().withPath(path).withPort(new IntOrString(PROBE_PORT)).endHttpGet()
                .withPeriodSeconds(periodSeconds).withTimeoutSeconds(2).withFailureThreshold(failureThreshold).build();
    }

    private static Volume memoryVolume(String name, String size) {
        return new VolumeBuilder().withName(name).withNewEmptyDir().withMedium("Memory").withSizeLimit(new Quantity(size)).endEmptyDir().build();
    }

    private static EnvVar value(String name, String value) {
        return new EnvVarBuilder().withName(name).withValue(value).build();
    }

    private static EnvVar field(String name, String path) {
        return new EnvVarBuilder().withName(name).withNewValueFrom().withNewFieldRef().withFieldPath(path).endFieldRef().endValueFrom().build();
    }

    private static String join(java.util.Collection<Integer> ports) {
        return ports.stream().sorted().map(String::valueOf).collect(Collectors.joining(","));
    }

    private static boolean isOurs(String container) {
        return PROXY_CONTAINER.equals(container) || INIT_CONTAINER.equals(container);
    }

    private static List<Container> containers(List<Container> containers) {
        return containers == null ? List.of() : containers;
    }

}
