package dev.trellis.identity.auth;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.PublicKey;
import java.time.Clock;

/** Authenticates callers by {@link LocalTokens} signed with the mesh's token key. */
public final class LocalTokenAuthenticator implements Authenticator {

    private final PublicKey tokenKey;
    private final Clock clock;

    public LocalTokenAuthenticator(PublicKey tokenKey, Clock clock) {
        this.tokenKey = requireNonNull(tokenKey, "tokenKey");
        this.clock = requireNonNull(clock, "clock");
    }

    @Override
    public WorkloadIdentity authenticate(String token, String trustDomain) throws AuthenticationException {
        return caller(token, trustDomain).identity();
    }

    @Override
    public Caller caller(String token, String trustDomain) throws AuthenticationException {
        return LocalTokens.verify(tokenKey, token, trustDomain, clock.instant());
    }

    @Override
    public String name() {
        return "local-token";
    }
}
