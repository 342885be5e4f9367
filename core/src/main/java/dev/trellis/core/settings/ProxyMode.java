package dev.trellis.core.settings;

import dev.trellis.core.metadata.MetadataKeys;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * How a pod's traffic is proxied ({@link MetadataKeys#PROXY_MODE}): by a sidecar of its own,
 * or by its node's proxy. The names node mode shares between the installer, the injector,
 * the identity service, the node agent and the node proxy are here, spelled once.
 */
public enum ProxyMode {
    SIDECAR, NODE;

    /** The node proxy's service account (in the control plane's namespace): the one identity allowed to ask for others' certificates. */
    public static final String NODE_PROXY_SERVICE_ACCOUNT = dev.trellis.core.identity.ControlPlaneComponent.NODE_PROXY.serviceAccount();
    /** The node agent's service account. */
    public static final String NODE_AGENT_SERVICE_ACCOUNT = dev.trellis.core.identity.ControlPlaneComponent.NODE_AGENT.serviceAccount();
    /**
     * The {@code SO_MARK} the node agent puts on the sockets it makes for the node proxy inside a
     * pod: the pod's iptables let marked traffic out unredirected, as a sidecar's uid is. The same
     * value as Istio ambient's, whose choice was checked against the marks common CNIs use.
     */
    public static final int SOCKET_MARK = 0x539;
    /** Where the agent listens and the node proxy connects: a Unix socket in a host directory only their two DaemonSets mount. */
    public static final String HANDOFF_SOCKET = "/var/run/trellis/node/handoff.sock";

    /** @throws IllegalArgumentException naming the accepted values */
    public static ProxyMode parse(String text) {
        return switch (text == null ? "" : text.strip().toLowerCase(Locale.ROOT)) {
            case "sidecar" -> SIDECAR;
            case "node" -> NODE;
            default -> throw new IllegalArgumentException("'" + text + "' is not one of sidecar, node");
        };
    }

    /**
     * The mode a pod with {@code podAnnotations} in a namespace with {@code namespaceAnnotations}
     * asks for: the pod's annotation, else the namespace's, else sidecar. A value that is not a
     * mode is an error, never a silent sidecar.
     */
    public static ProxyMode of(Map<String, String> podAnnotations, Map<String, String> namespaceAnnotations) {
        Optional<String> asked = Optional.ofNullable(podAnnotations == null ? null : podAnnotations.get(MetadataKeys.PROXY_MODE))
                .or(() -> Optional.ofNullable(namespaceAnnotations == null ? null : namespaceAnnotations.get(MetadataKeys.PROXY_MODE)));
        return asked.map(ProxyMode::parse).orElse(SIDECAR);
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
