package dev.trellis.proxy.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.policy.EgressPolicy;
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
                "egress policy " + policy.label("name") + " (" + policy.mode() + ")" + check);
    }

    private static final java.util.regex.Pattern HOST_VALUE = java.util.regex.Pattern.compile(
            "(?<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]{2,45}\\])(?::(?<port>[0-9]{1,5}))?");

    /**
     * The host an HTTP/1 request head names (lower case, port removed), read as strictly as a
     * server would, so that what the egress policy checks is what the server will obey: lines
     * end at LF (CR before it optional); the absolute-form target's authority when there is
     * one, which must then agree with {@code Host}; else the one {@code Host} header. Empty
     * when the head is ambiguous — two Host headers, a control character or a lone CR in a
     * line, a value that is not a host[:port] — and an ambiguous head gets no host rule's
     * allowance. (A fuzz target found the earlier reader taking "[::1]:80\r%\nX: y" as a host.)
     */
    public static Optional<String> httpHost(String head) {
        String[] lines = head.split("\n", 128);
        Optional<String> target = Optional.empty();
        Optional<String> host = Optional.empty();
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (line.isEmpty()) {
                break;
            }
            for (int c = 0; c < line.length(); c++) {
                char ch = line.charAt(c);
                if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                    return Optional.empty();
                }
            }
            if (i == 0) {
                target = absoluteAuthority(line);
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0 || !line.substring(0, colon).equalsIgnoreCase("host")) {
                continue;
            }
            if (host.isPresent()) {
                return Optional.empty();
            }
            host = Optional.of(line.substring(colon + 1).strip());
        }
        Optional<String> fromTarget = target.flatMap(EgressGate::hostOf);
        Optional<String> fromHeader = host.flatMap(EgressGate::hostOf);
        if (target.isPresent() && (fromTarget.isEmpty() || (host.isPresent() && !fromTarget.equals(fromHeader)))) {
            return Optional.empty();
        }
        return fromTarget.or(() -> fromHeader);
    }

    /** The authority of an absolute-form request target ({@code GET http://host:port/path HTTP/1.1}), if the line has one. */
    private static Optional<String> absoluteAuthority(String requestLine) {
        String[] parts = requestLine.split(" ", -1);
        if (parts.length != 3) {
            return Optional.empty();
        }
        String target = parts[1].toLowerCase(java.util.Locale.ROOT);
        for (String scheme : new String[] {"http://", "https://"}) {
            if (target.startsWith(scheme)) {
                String rest = target.substring(scheme.length());
                int end = rest.length();
                for (char stop : new char[] {'/', '?', '#'}) {
                    int at = rest.indexOf(stop);
                    if (at >= 0 && at < end) {
                        end = at;
                    }
                }
                return Optional.of(rest.substring(0, end));
            }
        }
        return Optional.empty();
    }

    /** The host of a host[:port] value, lower case, or empty when it is not one. */
    private static Optional<String> hostOf(String value) {
        java.util.regex.Matcher matcher = HOST_VALUE.matcher(value);
        if (!matcher.matches() || value.length() > 255) {
            return Optional.empty();
        }
        if (matcher.group("port") != null && Integer.parseInt(matcher.group("port")) > 65535) {
            return Optional.empty();
        }
        return Optional.of(matcher.group("host").toLowerCase(java.util.Locale.ROOT));
    }
}
