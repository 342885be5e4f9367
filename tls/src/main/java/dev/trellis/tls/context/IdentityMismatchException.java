package dev.trellis.tls.context;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.cert.CertificateException;

/**
 * A server that proved an identity, but not the one the client expected: the message names
 * both ({@code tls: expected ns/emojivoto/sa/default, the server presented
 * ns/emojivoto/sa/web}). Found as the cause of a failed client handshake.
 */
public final class IdentityMismatchException extends CertificateException {

    private static final long serialVersionUID = 1L;

    private final String expected;
    private final transient WorkloadIdentity presented;

    IdentityMismatchException(String expected, WorkloadIdentity presented) {
        super("tls: expected " + requireNonNull(expected, "expected") + ", the server presented " + requireNonNull(presented, "presented"));
        this.expected = expected;
        this.presented = presented;
    }

    /** The identity the client expected, as it was given (SPIFFE ID or DNS-like name). */
    public String expected() {
        return expected;
    }

    /** The identity the server's certificate carries. */
    public WorkloadIdentity presented() {
        return presented;
    }

    /** The mismatch among {@code cause} and its causes, if any. */
    public static java.util.Optional<IdentityMismatchException> in(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof IdentityMismatchException mismatch) {
                return java.util.Optional.of(mismatch);
            }
        }
        return java.util.Optional.empty();
    }
}
