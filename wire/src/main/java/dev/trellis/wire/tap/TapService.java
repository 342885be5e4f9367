package dev.trellis.wire.tap;

/** The gRPC path of {@code trellis.tap.v1.Tap}, as its .proto names it. */
public final class TapService {

    /** {@code rpc Observe(ObserveRequest) returns (stream TapEvent)}. */
    public static final String OBSERVE = "/trellis.tap.v1.Tap/Observe";

    private TapService() {
    }
}
