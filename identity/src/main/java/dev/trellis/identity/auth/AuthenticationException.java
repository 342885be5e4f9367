package dev.trellis.identity.auth;

import static java.util.Objects.requireNonNull;

/** A token that could not be accepted, and whether that was the token's fault or the checker's. */
public final class AuthenticationException extends Exception {

    private static final long serialVersionUID = 1L;

    /** Why authentication failed. */
    public enum Kind {
        /** The token is invalid, expired, for another audience, or names no service account. */
        UNAUTHENTICATED,
        /** The token could not be checked now; the caller may retry. */
        UNAVAILABLE
    }

    private final Kind kind;

    public AuthenticationException(Kind kind, String message) {
        super(message);
        this.kind = requireNonNull(kind, "kind");
    }

    public AuthenticationException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = requireNonNull(kind, "kind");
    }

    public Kind kind() {
        return kind;
    }
}
