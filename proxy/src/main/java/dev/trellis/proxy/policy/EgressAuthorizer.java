package dev.trellis.proxy.policy;

import dev.trellis.wire.policy.EgressPolicy;
import dev.trellis.wire.policy.EgressRule;
import java.net.InetAddress;
import java.util.Locale;
import java.util.Optional;

/**
 * Decides whether a workload may reach a destination that leaves the mesh, by its
 * {@link EgressPolicy}: by host name when known (HTTP Host, TLS SNI), by address and port
 * always. A name is only a claim: a deny rule applies to the name the app gave, but an allow
 * rule for a name applies only when the destination address is one that name resolves to
 * ({@code hostVerified}), so that {@code SNI x.allowed.test} to any address passes nothing.
 * Pure.
 */
final class EgressAuthorizer {

    private EgressAuthorizer() {
    }

    /** What to do with the connection or request. */
    public enum Decision {
        ALLOWED, DENIED, AUDIT_DENIED;

        /** As written in the connection log's {@code decision} field. */
        public String logValue() {
            return switch (this) {
                case ALLOWED -> "allowed";
                case DENIED -> "egress_denied";
                case AUDIT_DENIED -> "audit_would_deny";
            };
        }
    }

    static Decision decide(EgressPolicy policy, Optional<String> host, boolean hostVerified, InetAddress address, int port, CidrCache cidrs) {
        boolean denied = policy.deny().stream().anyMatch(r -> matches(r, host, true, address, port, cidrs));
        boolean allowed = policy.allow().stream().anyMatch(r -> matches(r, host, hostVerified, address, port, cidrs));
        boolean blocked = switch (policy.mode()) {
            case ALLOW -> denied || !allowed;
            case DENY -> denied;
            case AUDIT -> denied || (!policy.allow().isEmpty() && !allowed);
            case UNRECOGNIZED -> true;
        };
        if (!blocked) {
            return Decision.ALLOWED;
        }
        return policy.mode() == EgressPolicy.Mode.AUDIT ? Decision.AUDIT_DENIED : Decision.DENIED;
    }

    /** Whether an allow rule names {@code host} (and {@code port}): the decision then depends on what {@code host} resolves to. */
    static boolean allowsByName(EgressPolicy policy, Optional<String> host, int port) {
        return host.isPresent() && policy.allow().stream()
                .anyMatch(r -> r.kind() == EgressRule.Kind.HOST && portMatches(r, port) && hostMatches(r.destination(), host.get()));
    }

    private static boolean portMatches(EgressRule rule, int port) {
        return rule.ports().isEmpty() || rule.ports().contains(port);
    }

    static boolean matches(EgressRule rule, Optional<String> host, boolean hostVerified, InetAddress address, int port, CidrCache cidrs) {
        if (!portMatches(rule, port)) {
            return false;
        }
        return switch (rule.kind()) {
            case HOST -> hostVerified && host.map(h -> hostMatches(rule.destination(), h)).orElse(false);
            case CIDR -> cidrs.get(rule.destination()).map(c -> c.contains(address)).orElse(false);
            case NOT_SET -> false;
        };
    }

    static boolean hostMatches(String pattern, String host) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        int colon = h.lastIndexOf(':');
        if (colon > 0 && h.indexOf(':') == colon) {
            h = h.substring(0, colon);
        }
        String p = pattern.toLowerCase(Locale.ROOT);
        if (p.startsWith("*.")) {
            return h.endsWith(p.substring(1)) && h.length() > p.length() - 1;
        }
        return h.equals(p);
    }
}
