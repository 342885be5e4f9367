package dev.trellis.init;

import dev.trellis.core.net.Cidr;
import dev.trellis.core.settings.ProxyMode;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The nat-table rules for one address family, as {@code iptables-restore --noflush} input.
 * Four chains of Trellis's own, flushed and rewritten on every run: inbound TCP (PREROUTING)
 * goes to the proxy's inbound port except the skipped ports and the proxy's own listeners;
 * outbound TCP (OUTPUT) goes to the proxy's outbound port except the proxy's own traffic (by
 * uid, or by the node agent's socket mark in node mode), anything through loopback or to the loopback network, skipped ports and skipped
 * networks. The jumps from PREROUTING and OUTPUT are added only where missing, so running
 * twice leaves the same rules.
 */
final class RulePlan {

    static final String INBOUND = "TRELLIS_INBOUND";
    static final String INBOUND_REDIRECT = "TRELLIS_INBOUND_REDIRECT";
    static final String OUTBOUND = "TRELLIS_OUTBOUND";
    static final String OUTBOUND_REDIRECT = "TRELLIS_OUTBOUND_REDIRECT";
    static final String COMMENT = "trellis/proxy-init";

    private RulePlan() {
    }

    /**
     * The restore input for {@code ipv6} or IPv4; {@code jumpInbound} and {@code jumpOutbound}
     * say whether PREROUTING and OUTPUT still lack their jump.
     */
    static String restoreInput(InitConfig config, boolean ipv6, boolean jumpInbound, boolean jumpOutbound) {
        String loopback = ipv6 ? "::1/128" : "127.0.0.0/8";
        StringBuilder out = new StringBuilder("*nat\n");
        for (String chain : List.of(INBOUND, INBOUND_REDIRECT, OUTBOUND, OUTBOUND_REDIRECT)) {
            out.append(':').append(chain).append(" - [0:0]\n");
        }
        rule(out, INBOUND_REDIRECT, "-p tcp -j REDIRECT --to-ports " + config.inboundPort());
        for (int port : sorted(union(config.skipInboundPorts(), InitConfig.PROXY_PORTS))) {
            rule(out, INBOUND, "-p tcp --dport " + port + " -j RETURN");
        }
        rule(out, INBOUND, "-p tcp -j " + INBOUND_REDIRECT);
        rule(out, OUTBOUND_REDIRECT, "-p tcp -j REDIRECT --to-ports " + config.outboundPort());
        rule(out, OUTBOUND, "-m owner --uid-owner " + config.proxyUid() + " -j RETURN");
        // In node mode the node agent makes the proxy's sockets inside the pod, marked: they leave as the sidecar's uid does.
        // Setting a mark takes CAP_NET_ADMIN, which an app that could set it could use to rewrite these rules anyway.
        rule(out, OUTBOUND, "-m mark --mark 0x" + Integer.toHexString(ProxyMode.SOCKET_MARK) + " -j RETURN");
        rule(out, OUTBOUND, "-o lo -j RETURN");
        rule(out, OUTBOUND, "-d " + loopback + " -j RETURN");
        for (int port : sorted(config.skipOutboundPorts())) {
            rule(out, OUTBOUND, "-p tcp --dport " + port + " -j RETURN");
        }
        for (Cidr subnet : config.skipOutboundSubnets()) {
            if (subnet.isIpv6() == ipv6) {
                rule(out, OUTBOUND, "-d " + subnet + " -j RETURN");
            }
        }
        rule(out, OUTBOUND, "-p tcp -j " + OUTBOUND_REDIRECT);
        if (jumpInbound) {
            rule(out, "PREROUTING", "-j " + INBOUND);
        }
        if (jumpOutbound) {
            rule(out, "OUTPUT", "-j " + OUTBOUND);
        }
        return out.append("COMMIT\n").toString();
    }

    /** Removes what {@link #restoreInput} added: both jumps (however many), then the four chains. */
    static String cleanupInput(int inboundJumps, int outboundJumps) {
        StringBuilder out = new StringBuilder("*nat\n");
        for (int i = 0; i < inboundJumps; i++) {
            out.append("-D PREROUTING -m comment --comment \"").append(COMMENT).append("\" -j ").append(INBOUND).append('\n');
        }
        for (int i = 0; i < outboundJumps; i++) {
            out.append("-D OUTPUT -m comment --comment \"").append(COMMENT).append("\" -j ").append(OUTBOUND).append('\n');
        }
        for (String chain : List.of(INBOUND, INBOUND_REDIRECT, OUTBOUND, OUTBOUND_REDIRECT)) {
            out.append(':').append(chain).append(" - [0:0]\n");
        }
        for (String chain : List.of(INBOUND, INBOUND_REDIRECT, OUTBOUND, OUTBOUND_REDIRECT)) {
            out.append("-X ").append(chain).append('\n');
        }
        return out.append("COMMIT\n").toString();
    }

    /** How many jumps {@code saved} (iptables-save output of the nat table) has from {@code chain} to {@code target}. */
    static int jumps(String saved, String chain, String target) {
        return (int) saved.lines().filter(l -> l.startsWith("-A " + chain + " ") && l.endsWith("-j " + target)).count();
    }

    /** Whether {@code saved} has the chain at all. */
    static boolean hasChain(String saved, String chain) {
        return saved.lines().anyMatch(l -> l.startsWith(":" + chain + " "));
    }

    private static void rule(StringBuilder out, String chain, String rule) {
        out.append("-A ").append(chain).append(" -m comment --comment \"").append(COMMENT).append("\" ").append(rule).append('\n');
    }

    private static java.util.Set<Integer> union(java.util.Set<Integer> a, java.util.Set<Integer> b) {
        java.util.Set<Integer> all = new java.util.TreeSet<>(a);
        all.addAll(b);
        return all;
    }

    private static List<Integer> sorted(java.util.Set<Integer> ports) {
        return ports.stream().sorted().collect(Collectors.toList());
    }
}
