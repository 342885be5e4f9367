package dev.trellis.install;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.settings.ProxyMode;
import dev.trellis.core.sidecar.ProxyPorts;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Node mode ({@code --node-mode}, docs/node-mode.md): two DaemonSets, one pod of each per
 * node, meeting on a Unix socket in a host directory only they mount.
 * <ul>
 *   <li>{@code trellis-node-agent}: the privileged half, the only one. It runs as root with
 *   exactly {@code SYS_ADMIN} (to enter pods' network namespaces with {@code setns}) and
 *   {@code NET_ADMIN} (to mark the sockets it makes with {@code SO_MARK}), and no other
 *   capability. It mounts the runtime's {@code /var/run/netns} read-only. It reads pods and
 *   namespaces, and RBAC cannot narrow that to its node: it asks only for its node's pods
 *   ({@code spec.nodeName}), and writes nothing. It listens on nothing but the socket.</li>
 *   <li>{@code trellis-node-proxy}: the controller's uid, no capability, no API token, no
 *   RBAC. It has a token for the identity service's audience only, and a probe listener.</li>
 * </ul>
 * Each has a NetworkPolicy: the agent's admits nothing, the proxy's only its probe port (a
 * pod's mesh traffic reaches the node proxy inside that pod's namespace, not its own).
 */
final class NodeManifests {

    static final String AGENT_ROLE = "node-agent";
    static final String PROXY_ROLE = "node-proxy";
    static final String NETNS_DIR = "/var/run/netns";
    static final String HANDOFF_DIR = Path.of(ProxyMode.HANDOFF_SOCKET).getParent().toString();
    static final int ADMIN_PORT = ProxyPorts.ADMIN;
    static final int PROBE_PORT = ProxyPorts.PROBES;

    private NodeManifests() {
    }

    static List<HasMetadata> objects(InstallOptions options) {
        List<HasMetadata> objects = new ArrayList<>();
        objects.addAll(agent(options));
        objects.addAll(proxy(options));
        return objects;
    }

    private static List<HasMetadata> agent(InstallOptions options) {
        ControlPlaneWorkload workload = new ControlPlaneWorkload(options, ControlPlaneComponent.NODE_AGENT, AGENT_ROLE, ControlPlaneWorkload.Replication.SINGLE);
        List<String> args = List.of("node", "agent", "--kubernetes", "--node", "$(NODE_NAME)",
                "--socket", ProxyMode.HANDOFF_SOCKET, "--proxy-uid", Long.toString(options.controllerUid()), "--netns-dir", NETNS_DIR);
        Container hardened = workload.container(args, List.of(), new ControlPlaneWorkload.Resources("20m", "500m", "192Mi",
                "-Xmx64m -XX:TieredStopAtLevel=1 -XX:MaxMetaspaceSize=64m -XX:ReservedCodeCacheSize=24m"), PROBE_PORT, List.of(
                new VolumeMountBuilder().withName("netns").withMountPath(NETNS_DIR).withReadOnly(true).withMountPropagation("HostToContainer").build(),
                handoffMount()));
        Container agent = new ContainerBuilder(hardened)
                // It serves no HTTP: no probe port, no probes; the kubelet restarts it when it exits.
                .withPorts(List.of()).withReadinessProbe(null).withLivenessProbe(null)
                .addToEnv(new EnvVarBuilder().withName("NODE_NAME").withNewValueFrom().withNewFieldRef().withFieldPath("spec.nodeName").endFieldRef().endValueFrom().build())
                .withSecurityContext(new SecurityContextBuilder()
                        // root, for setns into namespaces owned by root; two capabilities, named and needed, nothing else.
                        // Its group is the node proxy's: the handoff socket it makes is theirs alone (0660), no CAP_CHOWN needed.
                        .withRunAsUser(0L).withRunAsGroup(options.controllerUid()).withRunAsNonRoot(false)
                        .withReadOnlyRootFilesystem(true)
                        .withNewCapabilities().withDrop("ALL").withAdd("SYS_ADMIN", "NET_ADMIN").endCapabilities()
                        .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                        .build())
                .build();
        List<Volume> volumes = List.of(
                new VolumeBuilder().withName("netns").withNewHostPath().withPath(NETNS_DIR).withType("Directory").endHostPath().build(),
                handoffVolume());
        PodSpec pod = new PodSpecBuilder(workload.pod(agent, volumes, true)).editSecurityContext().withRunAsNonRoot(false).endSecurityContext().build();
        List<HasMetadata> objects = new ArrayList<>();
        objects.add(workload.serviceAccount());
        objects.addAll(workload.clusterRole(List.of(new PolicyRuleBuilder().withApiGroups("").withResources("pods", "namespaces")
                .withVerbs("get", "list", "watch").build())));
        objects.add(workload.daemonSet(pod));
        objects.add(new NetworkPolicyBuilder(workload.networkPolicy(List.of())).editSpec().withIngress(List.of()).endSpec().build());
        return objects;
    }

    private static List<HasMetadata> proxy(InstallOptions options) {
        ControlPlaneWorkload workload = new ControlPlaneWorkload(options, ControlPlaneComponent.NODE_PROXY, PROXY_ROLE, ControlPlaneWorkload.Replication.SINGLE);
        List<String> args = List.of("node", "proxy",
                "--identity", options.identityOf(ControlPlaneComponent.NODE_PROXY).spiffeId(),
                "--trust-anchor", ControlPlaneWorkload.TRUST_ANCHORS_FILE,
                "--token-file", ControlPlaneWorkload.IDENTITY_TOKEN_FILE,
                "--identity-addr", options.serviceHost(ControlPlaneComponent.IDENTITY.serviceAccount()) + ":" + IdentityManifests.GRPC_PORT,
                "--identity-name", options.identityOf(ControlPlaneComponent.IDENTITY).spiffeId(),
                "--destination-addr", options.serviceHost(ControlPlaneComponent.DESTINATION.serviceAccount()) + ":" + DestinationManifests.GRPC_PORT,
                "--destination-name", options.identityOf(ControlPlaneComponent.DESTINATION).spiffeId(),
                "--viz-name", options.identityOf(ControlPlaneComponent.VIZ).spiffeId(),
                "--admin", "127.0.0.1:" + ADMIN_PORT,
                "--probe", "0.0.0.0:" + PROBE_PORT,
                "--agent-socket", ProxyMode.HANDOFF_SOCKET,
                "--connection-log", "-");
        Container container = workload.container(args, List.of(), new ControlPlaneWorkload.Resources("100m", "2", "512Mi"), PROBE_PORT,
                List.of(ControlPlaneWorkload.trustAnchorsMount(), ControlPlaneWorkload.identityTokenMount(), handoffMount()));
        PodSpec pod = workload.pod(container, List.of(ControlPlaneWorkload.trustAnchorsVolume(), ControlPlaneWorkload.identityTokenVolume(), handoffVolume()),
                false);
        List<HasMetadata> objects = new ArrayList<>();
        objects.add(workload.serviceAccount());
        objects.add(workload.daemonSet(pod));
        objects.add(workload.networkPolicy(List.of(PROBE_PORT)));
        return objects;
    }

    private static Volume handoffVolume() {
        return new VolumeBuilder().withName("handoff").withNewHostPath().withPath(HANDOFF_DIR).withType("DirectoryOrCreate").endHostPath().build();
    }

    private static VolumeMount handoffMount() {
        return new VolumeMountBuilder().withName("handoff").withMountPath(HANDOFF_DIR).build();
    }
}
