package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;

/**
 * The retry layer of one outbound request: which endpoints it was tried on and whether it may
 * go again, and where not. Three cases, from the safest:
 * <ul>
 *   <li>{@link #mayResendUnprocessed}: the endpoint never processed it (its connection or stream
 *       could not be made, or a draining server refused the stream by GOAWAY). Any method may
 *       go again while its body can be sent whole again (held, or not begun), up to
 *       {@value #MAX_UNPROCESSED} endpoints, outside the retry budget: no app saw it.</li>
 *   <li>{@link #mayRetry}: it failed before any response (the stream was lost, or the endpoint's
 *       proxy could not reach its app), or its route's retry policy names the status or gRPC code
 *       it got. Only a {@code retryable} request (an idempotent method, or a route the profile
 *       calls retryable) whose body can be sent again, as many times as its route allows (once
 *       by default), and only within the authority's {@link RetryBudget}, so that retries cannot
 *       multiply load on failing endpoints.</li>
 *   <li>otherwise it fails to the client.</li>
 * </ul>
 * Endpoints tried and failed are avoided by later attempts. Not thread-safe: one request's
 * event loop.
 */
final class Attempts {

    /** Endpoints a request refused unprocessed may be sent to in all (each excluded in turn). */
    static final int MAX_UNPROCESSED = 4;
    /** Retries of a request that may have been processed, unless its route says how many. */
    static final int DEFAULT_RETRIES = 1;

    private final boolean retryable;
    private final int maxRetries;
    private final RetryBudget budget;
    private final Set<InetSocketAddress> failed = new HashSet<>();
    private final Set<InetSocketAddress> failedView = Collections.unmodifiableSet(failed);
    private int made;

    Attempts(boolean retryable, RetryBudget budget) {
        this(retryable, DEFAULT_RETRIES, budget);
    }

    /** {@code maxRetries}: tries after the first that a request that may have been processed gets at most (its route's). */
    Attempts(boolean retryable, int maxRetries, RetryBudget budget) {
        this.retryable = retryable;
        this.maxRetries = maxRetries;
        this.budget = requireNonNull(budget, "budget");
    }

    /** An attempt starts. */
    void begin() {
        made++;
    }

    /** Attempts begun so far. */
    int made() {
        return made;
    }

    /** The endpoints this request failed on: the next attempt avoids them. */
    Set<InetSocketAddress> avoid() {
        return failedView;
    }

    /** The current attempt failed on {@code endpoint}. */
    void failedOn(InetSocketAddress endpoint) {
        failed.add(requireNonNull(endpoint, "endpoint"));
    }

    /**
     * Whether a request no endpoint processed may go to another one.
     *
     * @param resendable its body can be sent whole again: held (replayable), or not begun
     */
    boolean mayResendUnprocessed(boolean resendable) {
        return resendable && made < MAX_UNPROCESSED;
    }

    /**
     * Whether a request that failed before any response may go to another endpoint; takes one
     * retry from the budget when it may.
     *
     * @param resendable its body can be sent whole again: held (replayable), or not begun
     */
    boolean mayRetry(boolean resendable) {
        return resendable && retryable && made <= maxRetries && budget.tryRetry();
    }
}
