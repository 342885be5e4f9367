package dev.trellis.install;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.metadata.MetadataKeys;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPortBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What every control-plane workload has in common, so that each component's class says only
 * what is its own: names and labels; a hardened pod (non-root fixed uid, read-only root,
 * no privilege escalation, no capabilities, RuntimeDefault seccomp, requests and limits, a
 * writable {@code /tmp} only); probes on the probe-only listener; replicas, anti-affinity and
 * a PodDisruptionBudget as its {@link Replication} asks; a ServiceAccount that mounts no API token unless
 * the pod asks; least-privilege ClusterRoles; and NetworkPolicies that admit only the ports
 * the component serves.
 */
final class ControlPlaneWorkload {

    static final String PART_OF = "trellis";
    static final String LABEL_NAME = "app.kubernetes.io/name";
    static final String LABEL_PART_OF = "app.kubernetes.io/part-of";
    static final String LABEL_VERSION = "app.kubernetes.io/version";
    static final String LABEL_COMPONENT = "trellis.dev/control-plane-component";
    static final String LABEL_CONTROL_PLANE_NS = MetadataKeys.CONTROL_PLANE_NS;
    /** The injector leaves pods with this label alone (the webhook's objectSelector). */
    static final String LABEL_INJECT = MetadataKeys.INJECT;

    /** Where the trust anchors ConfigMap is mounted, and its file. */
    static final String TRUST_ANCHORS_DIR = "/var/run/trellis/trust-anchors";
    static final String TRUST_ANCHORS_FILE = TRUST_ANCHORS_DIR + "/" + ControlPlaneNamespace.TRUST_ANCHORS_KEY;
    /** Where the projected service-account token for the identity service is mounted. */
    static final String IDENTITY_TOKEN_DIR = "/var/run/secrets/tokens";
    static final String IDENTITY_TOKEN_FILE = IDENTITY_TOKEN_DIR + "/identity-token";
    /** A day, as Linkerd's; the kubelet rotates the token at 80 % of it. */
    static final long IDENTITY_TOKEN_SECONDS = 86_400;
    /** The image all control-plane components run (one distribution, many roles). */
    static final String CONTROLLER_IMAGE = "controller";

    /** How many of a component run, and how they are kept apart and protected from voluntary disruption. */
    enum Replication {
        /** One replica, whatever {@code --ha} says. */
        SINGLE,
        /** One replica; three on different nodes, with a PodDisruptionBudget, under {@code --ha}. */
        HA,
        /**
         * Never one: two replicas, spread over nodes where the scheduler can, with a
         * PodDisruptionBudget; three on different nodes under {@code --ha}. For what the API
         * server calls synchronously (the injector's webhook), where one pod's restart would
         * refuse every opted-in pod created meanwhile.
         */
        REDUNDANT
    }

    private final InstallOptions options;
    private final ControlPlaneComponent component;
    private final String role;
    private final Replication replication;

    /** {@code role}: the component's short name, e.g. {@code identity}. */
    ControlPlaneWorkload(InstallOptions options, ControlPlaneComponent component, String role, Replication replication) {
        this.options = options;
        this.component = component;
        this.role = role;
        this.replication = replication;
    }

    /** The number of replicas the Deployment asks for. */
    int replicas() {
        return switch (replication) {
            case SINGLE -> 1;
            case HA -> options.ha() ? 3 : 1;
            case REDUNDANT -> options.ha() ? 3 : 2;
        };
    }

    /** Replicas on different nodes is a requirement (not a preference) under {@code --ha}. */
    private boolean strictlySpread() {
        return options.ha() && replication != Replication.SINGLE;
    }

    /** The name of the component's Deployment, Service, ServiceAccount and NetworkPolicy: its service account's. */
    String name() {
        return component.serviceAccount();
    }

    /** Cluster-scoped objects carry the namespace in their names, so two installations do not collide. */
    String clusterScopedName() {
        return "trellis-" + options.namespace() + "-" + role;
    }

    Map<String, String> labels() {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(LABEL_NAME, name());
        labels.put(LABEL_PART_OF, PART_OF);
        labels.put(LABEL_VERSION, options.version());
        labels.put(LABEL_COMPONENT, role);
        labels.put(LABEL_CONTROL_PLANE_NS, options.namespace());
        return labels;
    }

    /** What selects the component's pods; no version in it, since a Deployment's selector cannot change. */
    Map<String, String> selector() {
        Map<String, String> selector = new LinkedHashMap<>();
        selector.put(LABEL_PART_OF, PART_OF);
        selector.put(LABEL_COMPONENT, role);
        return selector;
    }

    ObjectMeta metadata() {
        return metadata(name());
    }

    ObjectMeta metadata(String name) {
        return new ObjectMetaBuilder().withName(name).withNamespace(options.namespace()).withLabels(labels()).build();
    }

    ObjectMeta clusterMetadata() {
        return new ObjectMetaBuilder().withName(clusterScopedName()).withLabels(labels()).build();
    }

    String image() {
        return options.registry() + "/" + CONTROLLER_IMAGE + ":" + options.version();
    }

    /** The ServiceAccount; it mounts no API token by default, pods that call the API ask for one. */
    ServiceAccount serviceAccount() {
        return new ServiceAccountBuilder().withMetadata(metadata()).withAutomountServiceAccountToken(false).build();
    }

    /** A ClusterRole of exactly {@code rules}, and its binding to the component's ServiceAccount. */
    List<io.fabric8.kubernetes.api.model.HasMetadata> clusterRole(List<PolicyRule> rules) {
        ClusterRole role = new ClusterRoleBuilder().withMetadata(clusterMetadata()).withRules(rules).build();
        ClusterRoleBinding binding = new ClusterRoleBindingBuilder().withMetadata(clusterMetadata())
                .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", clusterScopedName())
                .addNewSubject().withKind("ServiceAccount").withName(name()).withNamespace(options.namespace()).endSubject()
                .build();
        return List.of(role, binding);
    }

    /** The hardened container: the controller image, {@code args}, its ports, requests and limits, probes on {@code probePort}. */
    Container container(List<String> args, List<ContainerPort> ports, Resources resources, int probePort, List<VolumeMount> mounts) {
        List<ContainerPort> all = new ArrayList<>(ports);
        all.add(port("probe", probePort));
        List<VolumeMount> allMounts = new ArrayList<>(mounts);
        allMounts.add(new VolumeMountBuilder().withName("tmp").withMountPath("/tmp").build());
        ContainerBuilder container = new ContainerBuilder()
                .withName(role)
                .withImage(image())
                .withImagePullPolicy(options.imagePullPolicy())
                .withArgs(args)
                .withPorts(all)
                .withVolumeMounts(allMounts);
        if (!resources.jvmOptions().isEmpty()) {
            // The JVM reads it itself, before the image's flags; an explicit -Xmx wins over the image's MaxRAMPercentage.
            container.addNewEnv().withName("JAVA_TOOL_OPTIONS").withValue(resources.jvmOptions()).endEnv();
        }
        return container
                .withResources(limits(resources))
                .withReadinessProbe(probe("/ready", 5, 3))
                .withLivenessProbe(probe("/live", 10, 6))
                .withSecurityContext(hardened())
                .build();
    }

    static ContainerPort port(String name, int port) {
        return new ContainerPortBuilder().withName(name).withContainerPort(port).withProtocol("TCP").build();
    }

    private static Probe probe(String path, int periodSeconds, int failureThreshold) {
        return new ProbeBuilder().withNewHttpGet().withPath(path).withPort(new IntOrString("probe")).endHttpGet()
                .withInitialDelaySeconds(2).withPeriodSeconds(periodSeconds).withTimeoutSeconds(2).withFailureThreshold(failureThreshold).build();
    }

    /**
     * The pod: {@code container}, its {@code volumes} plus a memory-backed {@code /tmp}, the
     * pod-level security context, and an API token only when {@code callsTheApi}.
     */
    /**
     * A container of an upstream image beside a component (Prometheus beside viz): the same
     * hardening (non-root uid, read-only root, no capabilities, no privilege escalation, the
     * runtime's seccomp profile) and resource limits, its own args, and no probes — it listens on
     * the pod's loopback only, where the kubelet cannot probe; the component's {@code /ready}
     * says whether it answers.
     */
    Container upstreamContainer(String name, String image, List<String> args, Resources resources, List<VolumeMount> mounts) {
        return new ContainerBuilder()
                .withName(name)
                .withImage(image)
                .withImagePullPolicy(options.imagePullPolicy())
                .withArgs(args)
                .withVolumeMounts(mounts)
                .withResources(limits(resources))
                .withSecurityContext(hardened())
                .build();
    }

    /** Requests and limits: the memory limit is the request (no overcommit), CPU may burst to its limit. */
    private static io.fabric8.kubernetes.api.model.ResourceRequirements limits(Resources resources) {
        return new ResourceRequirementsBuilder()
                .addToRequests("cpu", new Quantity(resources.cpuRequest()))
                .addToRequests("memory", new Quantity(resources.memory()))
                .addToLimits("cpu", new Quantity(resources.cpuLimit()))
                .addToLimits("memory", new Quantity(resources.memory()))
                .build();
    }

    private io.fabric8.kubernetes.api.model.SecurityContext hardened() {
        return new io.fabric8.kubernetes.api.model.SecurityContextBuilder()
                .withRunAsNonRoot(true)
                .withRunAsUser(options.controllerUid())
                .withRunAsGroup(options.controllerUid())
                .withReadOnlyRootFilesystem(true)
                .withAllowPrivilegeEscalation(false)
                .withNewCapabilities().withDrop("ALL").endCapabilities()
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                .build();
    }

    PodSpec pod(Container container, List<Volume> volumes, boolean callsTheApi) {
        List<Volume> all = new ArrayList<>(volumes);
        all.add(new VolumeBuilder().withName("tmp").withNewEmptyDir().withMedium("Memory").withSizeLimit(new Quantity("16Mi")).endEmptyDir().build());
        PodSpecBuilder pod = new PodSpecBuilder()
                .withServiceAccountName(name())
                .withAutomountServiceAccountToken(callsTheApi)
                .withEnableServiceLinks(false)
                .withContainers(container)
                .withVolumes(all)
                .withNewSecurityContext()
                    .withRunAsNonRoot(true)
                    .withRunAsUser(options.controllerUid())
                    .withRunAsGroup(options.controllerUid())
                    .withFsGroup(options.controllerUid())
                    .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                .endSecurityContext();
        if (strictlySpread()) {
            pod.withNewAffinity().withNewPodAntiAffinity()
                    .addNewRequiredDuringSchedulingIgnoredDuringExecution()
                        .withTopologyKey("kubernetes.io/hostname")
                        .withNewLabelSelector().withMatchLabels(selector()).endLabelSelector()
                    .endRequiredDuringSchedulingIgnoredDuringExecution()
                    .endPodAntiAffinity().endAffinity();
        } else if (replicas() > 1) {
            // A preference: a one-node cluster still runs both.
            pod.withNewAffinity().withNewPodAntiAffinity()
                    .addNewPreferredDuringSchedulingIgnoredDuringExecution().withWeight(100)
                        .withNewPodAffinityTerm()
                            .withTopologyKey("kubernetes.io/hostname")
                            .withNewLabelSelector().withMatchLabels(selector()).endLabelSelector()
                        .endPodAffinityTerm()
                    .endPreferredDuringSchedulingIgnoredDuringExecution()
                    .endPodAntiAffinity().endAffinity();
        }
        return pod.build();
    }

    /** The Deployment: {@link #replicas()} of the pod, never injected. */
    Deployment deployment(PodSpec pod, Map<String, String> podAnnotations) {
        Map<String, String> podLabels = new LinkedHashMap<>(labels());
        podLabels.put(LABEL_INJECT, "disabled");
        return new DeploymentBuilder()
                .withMetadata(metadata())
                .withNewSpec()
                    .withReplicas(replicas())
                    .withNewSelector().withMatchLabels(selector()).endSelector()
                    // 50 % unavailable rounds down to 0 of 1 replica (the new pod is ready before
                    // the old goes), to 1 of 2 (one keeps serving) and to 1 of 3 (a required
                    // anti-affinity on three nodes leaves a surge pod nowhere to go); 25 % surge
                    // rounds up to 1 in each case.
                    .withNewStrategy().withType("RollingUpdate").withNewRollingUpdate()
                        .withMaxUnavailable(new IntOrString("50%")).withMaxSurge(new IntOrString("25%"))
                    .endRollingUpdate().endStrategy()
                    .withNewTemplate()
                        .withNewMetadata().withLabels(podLabels).withAnnotations(podAnnotations).endMetadata()
                        .withSpec(pod)
                    .endTemplate()
                .endSpec()
                .build();
    }

    /**
     * A DaemonSet of the pod: one on every node, taints tolerated (node mode must serve every
     * node's pods), never injected, updated one node at a time.
     */
    io.fabric8.kubernetes.api.model.apps.DaemonSet daemonSet(PodSpec pod) {
        Map<String, String> podLabels = new LinkedHashMap<>(labels());
        podLabels.put(LABEL_INJECT, "disabled");
        PodSpec everywhere = new io.fabric8.kubernetes.api.model.PodSpecBuilder(pod)
                .addNewToleration().withOperator("Exists").endToleration()
                .withPriorityClassName("system-node-critical")
                .build();
        return new io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder()
                .withMetadata(metadata())
                .withNewSpec()
                    .withNewSelector().withMatchLabels(selector()).endSelector()
                    .withNewUpdateStrategy().withType("RollingUpdate").withNewRollingUpdate().withMaxUnavailable(new IntOrString(1)).endRollingUpdate()
                    .endUpdateStrategy()
                    .withNewTemplate()
                        .withNewMetadata().withLabels(podLabels).endMetadata()
                        .withSpec(everywhere)
                    .endTemplate()
                .endSpec()
                .build();
    }

    /** With more than one replica: at most one pod of the component down at a time by voluntary disruption (a drain, say). */
    Optional<PodDisruptionBudget> disruptionBudget() {
        if (replicas() < 2) {
            return Optional.empty();
        }
        return Optional.of(new PodDisruptionBudgetBuilder().withMetadata(metadata())
                .withNewSpec().withMaxUnavailable(new IntOrString(1)).withNewSelector().withMatchLabels(selector()).endSelector().endSpec()
                .build());
    }

    /** A ClusterIP Service for {@code ports} (name to port). */
    Service service(Map<String, Integer> ports) {
        List<ServicePort> servicePorts = ports.entrySet().stream()
                .map(p -> new ServicePortBuilder().withName(p.getKey()).withPort(p.getValue()).withTargetPort(new IntOrString(p.getKey())).withProtocol("TCP").build())
                .toList();
        return new ServiceBuilder().withMetadata(metadata())
                .withNewSpec().withType("ClusterIP").withSelector(selector()).withPorts(servicePorts).endSpec()
                .build();
    }

    /**
     * Ingress to the component's pods on {@code ports} only, from anywhere (proxies in every
     * namespace, the kubelet's probes); the namespace's default-deny policy refuses the rest.
     */
    NetworkPolicy networkPolicy(List<Integer> ports) {
        List<NetworkPolicyPort> open = ports.stream()
                .map(p -> new NetworkPolicyPortBuilder().withProtocol("TCP").withPort(new IntOrString(p)).build()).toList();
        return new NetworkPolicyBuilder().withMetadata(metadata())
                .withNewSpec()
                    .withNewPodSelector().withMatchLabels(selector()).endPodSelector()
                    .withPolicyTypes("Ingress")
                    .addNewIngress().withPorts(open).endIngress()
                .endSpec()
                .build();
    }

    /** The trust anchors ConfigMap as a volume, and its read-only mount. */
    static Volume trustAnchorsVolume() {
        return new VolumeBuilder().withName("trust-anchors")
                .withNewConfigMap().withName(ControlPlaneNamespace.TRUST_ANCHORS_CONFIG_MAP).endConfigMap().build();
    }

    static VolumeMount trustAnchorsMount() {
        return new VolumeMountBuilder().withName("trust-anchors").withMountPath(TRUST_ANCHORS_DIR).withReadOnly(true).build();
    }

    /** A service-account token for the identity service's audience, which the kubelet renews in place. */
    static Volume identityTokenVolume() {
        return new VolumeBuilder().withName("identity-token").withNewProjected()
                .addNewSource().withNewServiceAccountToken()
                    .withAudience(ControlPlaneComponent.IDENTITY_TOKEN_AUDIENCE)
                    .withExpirationSeconds(IDENTITY_TOKEN_SECONDS)
                    .withPath("identity-token")
                .endServiceAccountToken().endSource()
                .endProjected().build();
    }

    static VolumeMount identityTokenMount() {
        return new VolumeMountBuilder().withName("identity-token").withMountPath(IDENTITY_TOKEN_DIR).withReadOnly(true).build();
    }

    /**
     * Requests and limits of one container. Memory request = limit (the JVM sizes its heap
     * from the limit, and a pod that gets what it asked for is not the first evicted).
     * {@code jvmOptions}: caps that replace the image's sizing from the limit for a component
     * measured to need less (given as {@code JAVA_TOOL_OPTIONS}); empty: the image's.
     */
    record Resources(String cpuRequest, String cpuLimit, String memory, String jvmOptions) {
        Resources(String cpuRequest, String cpuLimit, String memory) {
            this(cpuRequest, cpuLimit, memory, "");
        }
    }
}
