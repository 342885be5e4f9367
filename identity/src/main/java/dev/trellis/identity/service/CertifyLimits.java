package dev.trellis.identity.service;

import static java.util.Objects.requireNonNull;

import dev.trellis.ratelimit.RateLimit;

/**
 * The identity service's limits (threat-model finding 1).
 *
 * <p>The defaults fit a cluster of 10,000 pods. Steady state, each pod renews once every
 * ~17 h (70 % of 24 h): under one call a second cluster-wide. The bursts are rollouts: a
 * 200-replica Deployment sharing one service account restarts within a minute or two, which
 * the per-identity burst of 200 absorbs; a peer address is one pod (or one node for
 * host-network pods), so 20 calls in a burst is generous. Signing is CPU-bound, so at most
 * as many run at once as the machine has cores (at least two).
 *
 * @param perPeer          bucket per caller IP address, checked before the token is
 * @param perIdentity      bucket per authenticated identity
 * @param maxConcurrentSigning signings in progress at once; more fail fast
 */
public record CertifyLimits(RateLimit perPeer, RateLimit perIdentity, int maxConcurrentSigning) {

    public CertifyLimits {
        requireNonNull(perPeer, "perPeer");
        requireNonNull(perIdentity, "perIdentity");
        if (maxConcurrentSigning < 1) {
            throw new IllegalArgumentException("identity: max concurrent signing " + maxConcurrentSigning + " must be at least 1");
        }
    }

    public static final String DEFAULT_PER_PEER = "5/s,20";
    public static final String DEFAULT_PER_IDENTITY = "20/s,200";

    public static CertifyLimits defaults() {
        return new CertifyLimits(RateLimit.parse(DEFAULT_PER_PEER), RateLimit.parse(DEFAULT_PER_IDENTITY),
                Math.max(2, Runtime.getRuntime().availableProcessors()));
    }
}
