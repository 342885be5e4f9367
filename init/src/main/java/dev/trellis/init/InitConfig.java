package dev.trellis.init;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.Cidr;
import dev.trellis.core.sidecar.ProxyPorts;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What {@code trellis init} redirects; {@link #builder} holds the defaults (Linkerd's ports,
 * the proxy's uid 2102).
 *
 * @param proxyUid            the proxy's uid: its own connections are never redirected
 * @param inboundPort         where inbound TCP goes (the proxy's inbound listener)
 * @param outboundPort        where outbound TCP goes (the proxy's outbound listener)
 * @param skipInboundPorts    inbound ports left alone (the proxy's own listeners always are)
 * @param skipOutboundPorts   outbound destination ports left alone
 * @param skipOutboundSubnets outbound destination networks left alone (CIDRs, either family)
 * @param ipv6                also program ip6tables
 * @param backend             which iptables to use
 */
public record InitConfig(int proxyUid, int inboundPort, int outboundPort, Set<Integer> skipInboundPorts, Set<Integer> skipOutboundPorts,
                         List<Cidr> skipOutboundSubnets, boolean ipv6, Backend backend) {

    /** nf_tables or the legacy x_tables interface; AUTO uses the one that already holds rules, else nft. */
    public enum Backend { AUTO, NFT, LEGACY }

    /** The proxy's own listeners other than inbound: tap, admin, probes. Never redirected inbound. */
    public static final Set<Integer> PROXY_PORTS = ProxyPorts.OWN_LISTENERS;

    public InitConfig {
        requirePort(inboundPort, "inbound port");
        requirePort(outboundPort, "outbound port");
        if (proxyUid < 1) {
            throw new IllegalArgumentException("init: proxy uid " + proxyUid + " must be a non-zero uid");
        }
        skipInboundPorts = new TreeSet<>(skipInboundPorts);
        skipOutboundPorts = new TreeSet<>(skipOutboundPorts);
        skipInboundPorts.forEach(p -> requirePort(p, "skipped inbound port"));
        skipOutboundPorts.forEach(p -> requirePort(p, "skipped outbound port"));
        skipInboundPorts = Set.copyOf(skipInboundPorts);
        skipOutboundPorts = Set.copyOf(skipOutboundPorts);
        skipOutboundSubnets = List.copyOf(skipOutboundSubnets);
        requireNonNull(backend, "backend");
    }

    public static Builder builder() {
        return new Builder();
    }

    private static void requirePort(int port, String what) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("init: " + what + " " + port + " is outside 1-65535");
        }
    }

    /** Builds {@link InitConfig}; starts from every default. */
    public static final class Builder {
        private int proxyUid = ProxyPorts.UID;
        private int inboundPort = ProxyPorts.INBOUND;
        private int outboundPort = ProxyPorts.OUTBOUND;
        private Set<Integer> skipInboundPorts = Set.of();
        private Set<Integer> skipOutboundPorts = Set.of();
        private List<Cidr> skipOutboundSubnets = List.of();
        private boolean ipv6 = true;
        private Backend backend = Backend.AUTO;

        public Builder proxyUid(int uid) {
            this.proxyUid = uid;
            return this;
        }

        public Builder inboundPort(int port) {
            this.inboundPort = port;
            return this;
        }

        public Builder outboundPort(int port) {
            this.outboundPort = port;
            return this;
        }

        public Builder skipInboundPorts(Set<Integer> ports) {
            this.skipInboundPorts = ports;
            return this;
        }

        public Builder skipOutboundPorts(Set<Integer> ports) {
            this.skipOutboundPorts = ports;
            return this;
        }

        public Builder skipOutboundSubnets(List<Cidr> subnets) {
            this.skipOutboundSubnets = subnets;
            return this;
        }

        public Builder ipv6(boolean ipv6) {
            this.ipv6 = ipv6;
            return this;
        }

        public Builder backend(Backend backend) {
            this.backend = backend;
            return this;
        }

        public InitConfig build() {
            return new InitConfig(proxyUid, inboundPort, outboundPort, skipInboundPorts, skipOutboundPorts, skipOutboundSubnets, ipv6, backend);
        }
    }
}
