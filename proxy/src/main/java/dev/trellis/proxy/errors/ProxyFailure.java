package dev.trellis.proxy.errors;

import static java.util.Objects.requireNonNull;

/**
 * A {@link ProxyError} with its detail ({@code endpoint 10.0.0.7:8080 (ns/shop/sa/front):
 * connect failed: connection refused}), as the failure of a future or a callback's outcome.
 * Stackless: it is an expected outcome, made on the event loop, often.
 */
public final class ProxyFailure extends Exception {

    private static final long serialVersionUID = 1L;

    private final transient ProxyError error;

    ProxyFailure(ProxyError error, String detail) {
        super(requireNonNull(detail, "detail"), null, false, false);
        this.error = requireNonNull(error, "error");
    }

    public ProxyError error() {
        return error;
    }

    /** The failure's kind when {@code cause} (or one of its causes) is a {@link ProxyFailure}, else {@code fallback}. */
    public static ProxyError errorOf(Throwable cause, ProxyError fallback) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof ProxyFailure failure) {
                return failure.error;
            }
        }
        return fallback;
    }
}
