package dev.trellis.tls.pki;

/** A CSR that strict validation refused; the message says what was wrong. */
public final class CsrRejectedException extends Exception {

    private static final long serialVersionUID = 1L;

    CsrRejectedException(String reason) {
        super(reason);
    }

    CsrRejectedException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
