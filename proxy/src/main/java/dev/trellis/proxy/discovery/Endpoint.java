package dev.trellis.proxy.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Optional;

/**
 * One endpoint of an authority, as discovery announced it.
 *
 * @param address          the workload's own address and port
 * @param weight           relative weight for balancing
 * @param identity         the identity its proxy must present; empty when it is not meshed
 * @param proxyInboundPort the port of its proxy's inbound listener when it must be dialled
 *                         directly (local mode); 0 to dial {@code address} (where the
 *                         server's iptables rules redirect to its proxy)
 * @param opaque           the endpoint's proxy wants opaque TCP for this port
 * @param labels           metric labels (namespace, service, pod, …)
 */
public record Endpoint(InetSocketAddress address, int weight, Optional<WorkloadIdentity> identity,
                       int proxyInboundPort, boolean opaque, Map<String, String> labels) {

    public Endpoint {
        requireNonNull(address, "address");
        requireNonNull(identity, "identity");
        labels = Map.copyOf(labels);
        if (proxyInboundPort < 0 || proxyInboundPort > 65535) {
            throw new IllegalArgumentException("discovery: proxy inbound port " + proxyInboundPort + " is outside 0-65535");
        }
    }

    /** Where to connect: the proxy's inbound port when announced, else the address itself. */
    public InetSocketAddress dialAddress() {
        return proxyInboundPort == 0 || identity.isEmpty()
                ? address : new InetSocketAddress(address.getAddress(), proxyInboundPort);
    }
}
