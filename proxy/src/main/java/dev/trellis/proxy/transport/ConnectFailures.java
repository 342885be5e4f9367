package dev.trellis.proxy.transport;

import dev.trellis.proxy.discovery.Endpoint;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.tls.context.IdentityMismatchException;

/**
 * Why a connection to an endpoint could not be made, typed, with a message naming the
 * endpoint: {@code endpoint 10.0.0.7:8080 (ns/shop/sa/front): connect failed: connection refused}.
 */
public final class ConnectFailures {

    private ConnectFailures() {
    }

    public static ProxyFailure of(Endpoint endpoint, ProxyError error, String what) {
        return error.because("endpoint " + endpoint.address() + endpoint.identity().map(i -> " (" + i.shortName() + ")").orElse("") + ": " + what);
    }

    /**
     * A failed mTLS handshake: an identity mismatch when the endpoint proved another identity
     * than discovery announced (the message names both), else a connect failure with the
     * handshake's own cause.
     */
    public static ProxyFailure handshake(Endpoint endpoint, Throwable cause) {
        return IdentityMismatchException.in(cause)
                .map(mismatch -> of(endpoint, ProxyError.IDENTITY_MISMATCH, mismatch.getMessage()))
                .orElseGet(() -> of(endpoint, ProxyError.CONNECT_FAILED, "mTLS handshake failed: " + Causes.rootMessage(cause)));
    }
}
