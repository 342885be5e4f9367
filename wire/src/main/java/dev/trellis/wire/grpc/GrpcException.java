package dev.trellis.wire.grpc;

/** A gRPC call that did not end OK; {@link #status} says how it ended. */
public final class GrpcException extends Exception {

    private static final long serialVersionUID = 1L;

    private final transient GrpcStatus status;

    GrpcException(GrpcStatus status) {
        super(status.toString());
        this.status = status;
    }

    public GrpcStatus status() {
        return status;
    }
}
