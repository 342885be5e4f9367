package dev.trellis.wire.destination;

/** The gRPC paths of {@code trellis.destination.v1.Destination}, as its .proto names them. */
public final class DestinationService {

    /** {@code rpc Get(GetDestination) returns (stream Update)}. */
    public static final String GET = "/trellis.destination.v1.Destination/Get";
    /** {@code rpc GetProfile(GetDestination) returns (stream Profile)}. */
    public static final String GET_PROFILE = "/trellis.destination.v1.Destination/GetProfile";

    private DestinationService() {
    }
}
