package dev.trellis.proxy.policy;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * Egress control (threat-model finding 8) for connections that leave the mesh: decides by
 * the workload's egress policy, counts the decision by host, and says what to log. Without a
 * policy (no workload configured, or none received yet) everything passes and is logged as
 * {@code passthrough}. Thread-safe.
 */
public final class EgressGate {

    private final Optional<PolicyWatches> watches;
    private final PolicyMetrics metrics;

    public EgressGate(Optional<PolicyWatches> watches, PolicyMetrics metrics) {
        this.watches = requireNonNull(watches, "watches");
        this.metrics = requireNonNull(metrics, "metrics");
    }

    /** A decision and the connection-log value that records it. */
    public record Verdict(boolean blocked, String logValue) {}

    /** Decides a connection to {@code destination}; {@code host} is the SNI or HTTP Host when the proxy saw one. */
    public Verdict decide(InetSocketAddress destination, Optional<String> host) {
        var policy = watches.flatMap(PolicyWatches::egress);
        if (policy.isEmpty()) {
            return new Verdict(false, "passthrough");
        }
        EgressAuthorizer.Decision decision = EgressAuthorizer.decide(policy.get(), host, destination.getAddress(), destination.getPort());
        metrics.egress(host.orElse(destination.getAddress().getHostAddress()), decision);
        return new Verdict(decision == EgressAuthorizer.Decision.DENIED, decision.logValue());
    }

    /** The {@code Host} of an HTTP/1 request head (port removed), if the bytes hold one. */
    public static Optional<String> httpHost(String head) {
        int end = head.indexOf("\r\n\r\n");
        String headers = end < 0 ? head : head.substring(0, end);
        for (String line : headers.split("\r\n")) {
            if (line.regionMatches(true, 0, "host:", 0, 5)) {
                String value = line.substring(5).strip();
                if (value.isEmpty() || value.length() > 255) {
                    return Optional.empty();
                }
                int colon = value.lastIndexOf(':');
                if (colon > 0 && !value.endsWith("]") && value.indexOf(':') == colon) {
                    value = value.substring(0, colon);
                }
                return Optional.of(value.toLowerCase(java.util.Locale.ROOT));
            }
        }
        return Optional.empty();
    }
}
