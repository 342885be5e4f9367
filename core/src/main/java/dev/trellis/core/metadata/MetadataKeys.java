package dev.trellis.core.metadata;

/**
 * Kubernetes label and annotation keys (and their fixed values) that more than one module
 * writes or reads: the installer, the injector, {@code trellis inject}, {@code trellis check}
 * and the destination service. Spelled here once, so that what one writes the other finds.
 */
public final class MetadataKeys {

    /**
     * Opt-in to injection, as a label (what the injector's webhooks select on: the API server
     * sends the injector only pods whose namespace or own labels carry it) and, as before
     * labels were selected on, an annotation. Values {@link #ENABLED} or {@link #DISABLED}.
     */
    public static final String INJECT = "trellis.dev/inject";
    public static final String ENABLED = "enabled";
    public static final String DISABLED = "disabled";

    /** Label on meshed pods and on the control plane's own objects: the namespace of the control plane. */
    public static final String CONTROL_PLANE_NS = "trellis.dev/control-plane-ns";

    /** Annotation on a pod or namespace: the policy of its inbound ports that no Server covers. */
    public static final String DEFAULT_INBOUND_POLICY = "config.trellis.dev/default-inbound-policy";

    /**
     * Annotation on a pod or namespace (the pod's wins): how its traffic is proxied,
     * {@code sidecar} (the default) or {@code node}. See {@link dev.trellis.core.settings.ProxyMode}.
     */
    public static final String PROXY_MODE = "config.trellis.dev/proxy-mode";

    /** The label every namespace carries with its own name (the API server sets it): webhooks select namespaces by it. */
    public static final String NAMESPACE_NAME = "kubernetes.io/metadata.name";

    private MetadataKeys() {
    }
}
