package dev.trellis.tls.client;

import dev.trellis.wire.grpc.GrpcStatus;
import java.time.Duration;
import java.util.Optional;

/** A certification attempt that failed; the message carries the server's reason when there is one. */
public final class CertifyException extends Exception {

    private static final long serialVersionUID = 1L;

    private final GrpcStatus.Code code;
    private final transient Duration retryAfter;

    CertifyException(String message, GrpcStatus.Code code, Duration retryAfter, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.retryAfter = retryAfter;
    }

    /** The gRPC status code of the refusal, or UNKNOWN for local failures. */
    public GrpcStatus.Code code() {
        return code;
    }

    /** The server's retry hint, when it sent one (rate limiting). */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }
}
