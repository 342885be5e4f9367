package dev.trellis.core.identity;

import static java.util.Objects.requireNonNull;

/**
 * The control-plane components that proxies and each other authenticate by identity, and the
 * service account each runs as. Named once here so that a proxy expecting the destination
 * service, the installer writing its ServiceAccount, and the destination service presenting
 * its certificate cannot drift apart.
 */
public enum ControlPlaneComponent {
    IDENTITY("trellis-identity"),
    DESTINATION("trellis-destination"),
    VIZ("trellis-viz"),
    INJECTOR("trellis-injector"),
    /** Node mode's proxy (one per node): holds no identity of its own, asks for its node's pods' identities. */
    NODE_PROXY("trellis-node-proxy"),
    /** Node mode's privileged agent (one per node): makes pods' sockets; holds no identity. */
    NODE_AGENT("trellis-node-agent");

    /** The namespace the control plane runs in unless installed elsewhere. */
    public static final String DEFAULT_NAMESPACE = "trellis";

    /**
     * The audience of the service-account tokens workloads present to the identity service
     * (projected volumes ask the kubelet for it; TokenReview checks it).
     */
    public static final String IDENTITY_TOKEN_AUDIENCE = "identity.trellis.dev";

    private final String serviceAccount;

    ControlPlaneComponent(String serviceAccount) {
        this.serviceAccount = serviceAccount;
    }

    /** The service account this component runs as. */
    public String serviceAccount() {
        return serviceAccount;
    }

    /** This component's identity in {@code trustDomain}, installed in the default namespace. */
    public WorkloadIdentity identity(String trustDomain) {
        return identity(trustDomain, DEFAULT_NAMESPACE);
    }

    /** This component's identity in {@code trustDomain}, installed in {@code namespace}. */
    public WorkloadIdentity identity(String trustDomain, String namespace) {
        return new WorkloadIdentity(requireNonNull(trustDomain, "trustDomain"), requireNonNull(namespace, "namespace"), serviceAccount);
    }
}
