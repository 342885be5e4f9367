package dev.trellis.proxy.policy;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.settings.DefaultInboundPolicy;
import dev.trellis.wire.policy.InboundServer;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound side's policy decisions, per connection (TCP) or request (HTTP): the port's
 * policy from the destination service when the proxy knows its workload, else (no workload
 * configured, or no answer within the wait) the {@link Fallback}: by default callers without
 * a mesh identity are refused on the {@code require-identity} ports and everyone else is
 * allowed. In audit mode (a Server's {@code accessPolicy: audit}, or the default policy
 * {@code audit}) a caller the policy would deny is let through, counted as a would-be denial and
 * logged (once a minute per Server and caller). Thread-safe.
 */
public final class InboundPolicy {

    private static final Logger log = LoggerFactory.getLogger(InboundPolicy.class);

    /** What happens to an HTTP request. */
    public enum Verdict { ALLOW, DENY, RATE_LIMITED }

    /**
     * What applies while no policy is known for a port (no workload configured, or no answer
     * from the destination service yet): everyone but identity-less callers on the
     * require-identity ports, mesh identities only, or nobody.
     */
    public enum Fallback {
        ALL_UNAUTHENTICATED, ALL_AUTHENTICATED, DENY;

        /**
         * Any default inbound policy the destination service and the annotation accept: the
         * injector passes the annotation on, so the proxy must start with every one of them.
         * While the real policy is unknown, {@code audit} lets everything through (as it will)
         * and {@code cluster-authenticated} admits mesh identities only (the cluster's networks
         * come with the policy).
         */
        public static Fallback of(DefaultInboundPolicy policy) {
            return switch (policy) {
                case ALL_UNAUTHENTICATED, AUDIT -> ALL_UNAUTHENTICATED;
                case ALL_AUTHENTICATED, CLUSTER_AUTHENTICATED -> ALL_AUTHENTICATED;
                case DENY -> DENY;
            };
        }

        /** "Authenticated" means an identity of the proxy's own trust domain, as for {@code any} in a policy. */
        boolean allows(int port, Optional<WorkloadIdentity> client, Set<Integer> requireIdentityPorts, String localTrustDomain) {
            boolean authenticated = client.filter(IdentityPattern.anyIn(localTrustDomain)::matches).isPresent();
            return switch (this) {
                case ALL_UNAUTHENTICATED -> authenticated || !requireIdentityPorts.contains(port);
                case ALL_AUTHENTICATED -> authenticated;
                case DENY -> false;
            };
        }
    }

    private final Optional<PolicyWatches> watches;
    private final Duration wait;
    private final Set<Integer> requireIdentityPorts;
    private final PolicyMetrics metrics;
    private final InboundRateLimiter rateLimiter;
    private final Fallback fallback;
    private final CidrCache cidrs = new CidrCache();
    private final String localTrustDomain;
    private final Set<Integer> opaquePorts;

    /**
     * {@code localTrustDomain}: the proxy's own; "any authenticated identity" means any of it.
     * {@code opaquePorts}: ports configured opaque, whatever their policy says.
     */
    public InboundPolicy(Optional<PolicyWatches> watches, Duration wait, Set<Integer> requireIdentityPorts, Set<Integer> opaquePorts, Fallback fallback,
                         PolicyMetrics metrics, InboundRateLimiter rateLimiter, String localTrustDomain) {
        this.localTrustDomain = requireNonNull(localTrustDomain, "localTrustDomain");
        this.opaquePorts = Set.copyOf(opaquePorts);
        this.fallback = requireNonNull(fallback, "fallback");
        this.watches = requireNonNull(watches, "watches");
        this.wait = requireNonNull(wait, "wait");
        this.requireIdentityPorts = Set.copyOf(requireIdentityPorts);
        this.metrics = requireNonNull(metrics, "metrics");
        this.rateLimiter = requireNonNull(rateLimiter, "rateLimiter");
    }

    /** Decides a connection to app {@code port}; {@code then} runs on {@code executor}. */
    public void connection(int port, Optional<WorkloadIdentity> client, InetAddress source, Executor executor, Consumer<Boolean> then) {
        withPolicy(port, executor, policy -> {
            if (policy.isEmpty()) {
                then.accept(fallback.allows(port, client, requireIdentityPorts, localTrustDomain));
                return;
            }
            InboundAuthorizer.Decision decision = InboundAuthorizer.connection(policy.get(), new InboundAuthorizer.Caller(client, source, localTrustDomain), cidrs);
            metrics.tcp(decision);
            then.accept(allowed(decision, "connection", port, client, source));
        });
    }

    /** Decides an HTTP request to app {@code port}; {@code then} runs on {@code executor}. */
    public void request(int port, Optional<WorkloadIdentity> client, InetAddress source, InboundAuthorizer.Request request, Executor executor,
                        Consumer<Verdict> then) {
        withPolicy(port, executor, policy -> {
            if (policy.isEmpty()) {
                then.accept(fallback.allows(port, client, requireIdentityPorts, localTrustDomain) ? Verdict.ALLOW : Verdict.DENY);
                return;
            }
            InboundAuthorizer.Decision decision = InboundAuthorizer.request(policy.get(), new InboundAuthorizer.Caller(client, source, localTrustDomain), request, cidrs);
            metrics.http(decision);
            if (!allowed(decision, request.method() + " " + InboundAuthorizer.pathOnly(request.path()), port, client, source)) {
                then.accept(Verdict.DENY);
            } else if (!rateLimiter.tryAcquire(policy.get(), client)) {
                metrics.rateLimited(decision.server());
                then.accept(Verdict.RATE_LIMITED);
            } else {
                then.accept(Verdict.ALLOW);
            }
        });
    }

    /**
     * Whether redirected traffic to {@code port} is opaque and must skip protocol detection:
     * configured so, or its policy says so (a Server with protocol opaque, or the pod's
     * {@code config.trellis.dev/opaque-ports} annotation). Waiting for the first bytes of a
     * server-speaks-first protocol stalls it until the detection timeout — the most common
     * Linkerd complaint — so the answer matters before the first byte is read.
     */
    public void isOpaque(int port, Executor executor, Consumer<Boolean> then) {
        if (opaquePorts.contains(port)) {
            then.accept(true);
            return;
        }
        withPolicy(port, executor, policy -> then.accept(policy.map(p -> p.protocol() == InboundServer.Protocol.OPAQUE).orElse(false)));
    }

    private void withPolicy(int port, Executor executor, Consumer<Optional<InboundServer>> then) {
        if (watches.isEmpty()) {
            then.accept(Optional.empty());
            return;
        }
        watches.get().inbound(port, wait, executor, then);
    }

    /** At most one audit line per Server and caller per this interval: audit mode sees every request, the log need not. */
    static final Duration AUDIT_LOG_INTERVAL = Duration.ofMinutes(1);
    /** Server-and-caller pairs remembered for that; beyond it the memory starts over. */
    static final int AUDIT_LOG_KEYS = 1024;

    private final java.util.concurrent.ConcurrentHashMap<String, Long> auditLogged = new java.util.concurrent.ConcurrentHashMap<>();

    private boolean allowed(InboundAuthorizer.Decision decision, String what, int port, Optional<WorkloadIdentity> client, InetAddress source) {
        if (decision.allowed()) {
            return true;
        }
        String caller = client.map(WorkloadIdentity::toString).orElse("unauthenticated " + source.getHostAddress());
        if (decision.audit()) {
            // Counted every time (PolicyMetrics); logged once a minute per Server and caller.
            long now = System.nanoTime();
            String key = decision.server() + " " + caller;
            Long last = auditLogged.get(key);
            if (last == null || now - last > AUDIT_LOG_INTERVAL.toNanos()) {
                if (auditLogged.size() >= AUDIT_LOG_KEYS) {
                    auditLogged.clear();
                }
                auditLogged.put(key, now);
                log.info("policy: audit: would deny {} to port {} from {} (server {}); let through, as audit mode says", what, port, caller,
                        decision.server());
            }
            return true;
        }
        log.info("policy: denied {} to port {} from {} (server {})", what, port, caller, decision.server());
        return false;
    }
}
