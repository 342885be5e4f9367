package dev.trellis.identity.auth;

import dev.trellis.core.identity.WorkloadIdentity;

/**
 * Proves who a caller of the identity service is from the token it sent.
 *
 * <p>Implementations are thread-safe and may block (a TokenReview is a network call); the
 * service calls them off the event loop, after the per-peer rate limit.
 */
public interface Authenticator {

    /** The audience every token must carry: tokens minted for other services are refused. */
    String AUDIENCE = dev.trellis.core.identity.ControlPlaneComponent.IDENTITY_TOKEN_AUDIENCE;

    /**
     * The identity, in {@code trustDomain}, that {@code token} proves.
     *
     * @throws AuthenticationException {@link AuthenticationException.Kind#UNAUTHENTICATED} when the
     *         token proves nothing, {@link AuthenticationException.Kind#UNAVAILABLE} when it could
     *         not be checked (the API server is unreachable, say)
     */
    WorkloadIdentity authenticate(String token, String trustDomain) throws AuthenticationException;

    /**
     * As {@link #authenticate}, with the pod the token is bound to when it names one: what a
     * node proxy's request is checked against. The default knows no pod.
     */
    default Caller caller(String token, String trustDomain) throws AuthenticationException {
        return Caller.of(authenticate(token, trustDomain));
    }

    /** A short name for logs and the audit trail: {@code local-token}, {@code kubernetes}. */
    String name();
}
