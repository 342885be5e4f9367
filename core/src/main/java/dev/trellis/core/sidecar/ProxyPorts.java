package dev.trellis.core.sidecar;

import java.util.Set;

/**
 * The sidecar's ports and uid, kept from Linkerd (which operators know): the proxy's defaults,
 * the ports the injector declares and probes, the rules proxy-init writes and the ports local
 * mode assumes all come from here.
 */
public final class ProxyPorts {

    /** Mesh and redirected inbound traffic (mTLS from other proxies). */
    public static final int INBOUND = 4143;
    /** Redirected outbound traffic (loopback only). */
    public static final int OUTBOUND = 4140;
    /** The admin listener (loopback only by default). */
    public static final int ADMIN = 4191;
    /** Tap, over mTLS, for the viz identity only. */
    public static final int TAP = 4190;
    /** The kubelet's liveness and readiness probes. */
    public static final int PROBES = 4192;
    /** The uid the proxy runs as; proxy-init lets this uid's traffic pass unredirected. */
    public static final int UID = 2102;

    /** The proxy's own listeners other than inbound and outbound: never redirected inbound. */
    public static final Set<Integer> OWN_LISTENERS = Set.of(TAP, ADMIN, PROBES);

    private ProxyPorts() {
    }
}
