package dev.trellis.wire.protobuf;

/** Bytes that are not the message they claim to be: truncated, over a limit, or of the wrong wire type. */
public final class ProtoException extends Exception {

    private static final long serialVersionUID = 1L;

    public ProtoException(String message) {
        super(message);
    }
}
