package dev.trellis.viz;

import dev.trellis.api.tap.v1.TapEvent;

/**
 * One tap event as the API sends it: {@code kind} req, rsp or end; the request's id, source
 * and destination identities; method, authority and path on req; status and latency on rsp;
 * gRPC status and error on end.
 */
public record TapLine(String kind, long id, String direction, String src, String dst, String srcIdentity, String dstIdentity,
                      String method, String authority, String path, Integer status, Double latencyMs, Integer grpcStatus, String error) {

    static TapLine of(TapEvent event) {
        String direction = event.getDirection() == TapEvent.Direction.OUTBOUND ? "out" : "in";
        String src = event.getSource().getAddress();
        String dst = event.getDestination().getAddress();
        String srcId = event.getSource().getIdentity();
        String dstId = event.getDestination().getIdentity();
        if (event.hasRequestInit()) {
            var init = event.getRequestInit();
            return new TapLine("req", event.getStreamId(), direction, src, dst, srcId, dstId, init.getMethod(), init.getAuthority(), init.getPath(),
                    null, null, null, null);
        }
        if (event.hasResponseInit()) {
            var init = event.getResponseInit();
            return new TapLine("rsp", event.getStreamId(), direction, src, dst, srcId, dstId, null, null, null, init.getStatus(),
                    millis(init.getSinceRequestInit()), null, null);
        }
        var end = event.getResponseEnd();
        return new TapLine("end", event.getStreamId(), direction, src, dst, srcId, dstId, null, null, null, null,
                millis(end.getSinceRequestInit()), end.getGrpcStatus(), end.getError().isEmpty() ? null : end.getError());
    }

    private static double millis(com.google.protobuf.Duration duration) {
        return duration.getSeconds() * 1000.0 + duration.getNanos() / 1e6;
    }
}
