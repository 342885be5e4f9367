package dev.trellis.proxy.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.policy.v1.EgressPolicy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * Egress control (threat-model finding 8) for connections that leave the mesh: decides by
 * the workload's egress policy, counts the decision by host, and says what to log. Without a
 * policy (no workload configured, or none received yet) everything passes and is logged as
 * {@code passthrough}. A connection made before the first policy arrived (a starting pod)
 * waits for it, up to a bound. Thread-safe.
 */
public final class EgressGate {

    private final Optional<PolicyWatches> watches;
    private final PolicyMetrics metrics;
    private final Duration wait;
    private final CidrCache cidrs = new CidrCache();
    private final HostResolver resolver;

    /**
     * {@code wait}: how long a connection may wait for the first policy (a starting pod), after
     * which it passes; {@code resolver}: what names in allow rules are checked against.
     */
    public EgressGate(Optional<PolicyWatches> watches, PolicyMetrics metrics, Duration wait, HostResolver resolver) {
        this.resolver = requireNonNull(resolver, "resolver");
        this.watches = requireNonNull(watches, "watches");
        this.metrics = requireNonNull(metrics, "metrics");
        this.wait = requireNonNull(wait, "wait");
    }

    /** A decision, the connection-log value that records it, and why. */
    public record Verdict(boolean blocked, String logValue, String reason) {}

    /**
     * Decides a connection to {@code destination}; {@code host} is the SNI or HTTP Host when
     * the proxy saw one. {@code then} runs on {@code executor}.
     */
    public void decide(InetSocketAddress destination, Optional<String> host, Executor executor, Consumer<Verdict> then) {
        if (watches.isEmpty()) {
            then.accept(new Verdict(false, "passthrough", "no egress policy (no workload configured)"));
            return;
        }
        watches.get().egress(wait, executor, policy -> {
            if (policy.isEmpty()) {
                then.accept(new Verdict(false, "passthrough", "no egress policy received within " + wait));
                return;
            }
            if (!EgressAuthorizer.allowsByName(policy.get(), host, destination.getPort())) {
                then.accept(decide(policy.get(), destination, host, false, ""));
                return;
            }
            // An allow rule names the host the app gave: it counts only if the destination is one of that name's addresses.
            resolver.resolve(host.get()).whenComplete((addresses, error) -> executor.execute(() -> {
                boolean verified = error == null && addresses.contains(destination.getAddress());
                String check = verified ? ""
                        : error != null ? "; " + host.get() + " matches an allow rule but does not resolve (" + error.getMessage() + ")"
                        : "; " + host.get() + " matches an allow rule but " + destination.getAddress().getHostAddress() + " is not one of its addresses "
                                + addresses.stream().map(InetAddress::getHostAddress).sorted().limit(8).toList();
                then.accept(decide(policy.get(), destination, host, verified, check));
            }));
        });
    }

    private Verdict decide(EgressPolicy policy, InetSocketAddress destination, Optional<String> host, boolean hostVerified, String check) {
        EgressAuthorizer.Decision decision = EgressAuthorizer.decide(policy, host, hostVerified, destination.getAddress(), destination.getPort(), cidrs);
        metrics.egress(host.orElse(destination.getAddress().getHostAddress()), decision);
        return new Verdict(decision == EgressAuthorizer.Decision.DENIED, decision.logValue(),
                "egress policy " + policy.getLabelsOrDefault("name", "") + " (" + policy.getMode() + ")" + check);
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
