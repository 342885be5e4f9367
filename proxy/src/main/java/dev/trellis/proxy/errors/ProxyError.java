package dev.trellis.proxy.errors;

import java.util.Locale;

/**
 * Every reason the proxy refuses or fails a connection or request by itself, and how each
 * shows: the HTTP status an HTTP client gets, the gRPC status a gRPC client gets (in a
 * trailers-only response), the text of the {@code trellis-proxy-error} header, and the label
 * metrics and the connection log use ({@link #label}, the constant's name in lower case).
 * One switch-free table, so that a response, a metric and a log line about one refusal
 * cannot disagree. docs/metrics.md lists the labels.
 */
public enum ProxyError {

    // Outbound: the proxy could not carry a request or connection to its destination.
    NO_ENDPOINTS(503, GrpcCode.UNAVAILABLE, "no endpoints"),
    ENDPOINT_NOT_MESHED(503, GrpcCode.UNAVAILABLE, "endpoint not meshed"),
    RESOLVE_TIMEOUT(503, GrpcCode.UNAVAILABLE, "no answer from discovery"),
    RESOLUTION_REFUSED(503, GrpcCode.UNAVAILABLE, "discovery refused the destination"),
    CONNECT_FAILED(502, GrpcCode.UNAVAILABLE, "connect refused"),
    IDENTITY_MISMATCH(502, GrpcCode.UNAVAILABLE, "identity mismatch"),
    REQUEST_TIMEOUT(504, GrpcCode.DEADLINE_EXCEEDED, "timeout"),
    BACKEND_NOT_RESOLVED(500, GrpcCode.UNAVAILABLE, "route backend not resolved"),
    EGRESS_DENIED(403, GrpcCode.PERMISSION_DENIED, "egress denied"),
    NO_ORIGINAL_DESTINATION(400, GrpcCode.INTERNAL, "neither redirected nor HTTP/1"),

    // Either side: the client's request or connection is malformed, too big or too slow.
    BAD_REQUEST(400, GrpcCode.INTERNAL, "malformed request"),
    NO_AUTHORITY(400, GrpcCode.INTERNAL, "no authority (absolute request target or Host)"),
    REQUEST_TOO_LARGE(413, GrpcCode.RESOURCE_EXHAUSTED, "request too large"),
    HEADER_TIMEOUT(408, GrpcCode.DEADLINE_EXCEEDED, "request not received in time"),

    // Inbound: the caller may not reach this port, or the app could not be reached.
    POLICY_DENIED(403, GrpcCode.PERMISSION_DENIED, "policy denied"),
    RATE_LIMITED(429, GrpcCode.RESOURCE_EXHAUSTED, "rate limited"),
    NO_IDENTITY(403, GrpcCode.PERMISSION_DENIED, "the port requires a mesh identity"),
    NO_TARGET_PORT(400, GrpcCode.INTERNAL, "no valid target port"),
    UNDECLARED_PORT(403, GrpcCode.PERMISSION_DENIED, "target port not declared by the workload"),
    PROTECTED_PORT(403, GrpcCode.PERMISSION_DENIED, "target port is one of the proxy's own"),
    APP_CONNECT_FAILED(502, GrpcCode.UNAVAILABLE, "app connect refused"),
    APP_BAD_RESPONSE(502, GrpcCode.UNAVAILABLE, "app sent a malformed response"),
    SCRAPE_DENIED(403, GrpcCode.PERMISSION_DENIED, "metrics are for the viz identity only"),
    NOT_FOUND(404, GrpcCode.UNIMPLEMENTED, "the proxy serves GET /metrics only"),

    // Inbound connections that never get as far as a request.
    TLS_HANDSHAKE(400, GrpcCode.UNAVAILABLE, "mTLS handshake failed"),
    NO_CLIENT_IDENTITY(403, GrpcCode.UNAUTHENTICATED, "no client identity"),
    UNSUPPORTED_TRANSPORT(400, GrpcCode.UNAVAILABLE, "unsupported transport"),
    BAD_TRANSPORT_HEADER(400, GrpcCode.INTERNAL, "bad transport header");

    /** The gRPC status codes the proxy answers with (numbers as in grpc's {@code Status.Code}). */
    public enum GrpcCode {
        INTERNAL(13), UNIMPLEMENTED(12), PERMISSION_DENIED(7), RESOURCE_EXHAUSTED(8), DEADLINE_EXCEEDED(4), UNAVAILABLE(14), UNAUTHENTICATED(16);

        private final int value;

        GrpcCode(int value) {
            this.value = value;
        }

        public int value() {
            return value;
        }
    }

    private final int httpStatus;
    private final GrpcCode grpcCode;
    private final String text;
    private final String label;

    ProxyError(int httpStatus, GrpcCode grpcCode, String text) {
        this.httpStatus = httpStatus;
        this.grpcCode = grpcCode;
        this.text = text;
        this.label = name().toLowerCase(Locale.ROOT);
    }

    /** The HTTP status an HTTP client gets. */
    public int httpStatus() {
        return httpStatus;
    }

    /** The gRPC status a gRPC client gets. */
    public GrpcCode grpcCode() {
        return grpcCode;
    }

    /** The value of the {@code trellis-proxy-error} header and the body of the answer. */
    public String text() {
        return text;
    }

    /** The metric label and connection-log decision. */
    public String label() {
        return label;
    }

    /** This error with what exactly happened, for logs and for callers that pass it on. */
    public ProxyFailure because(String detail) {
        return new ProxyFailure(this, detail);
    }
}
