package dev.trellis.wire.policy;

/** The gRPC paths of {@code trellis.policy.v1.Policy}, as its .proto names them. */
public final class PolicyService {

    /** {@code rpc WatchInbound(InboundPort) returns (stream InboundServer)}. */
    public static final String WATCH_INBOUND = "/trellis.policy.v1.Policy/WatchInbound";
    /** {@code rpc WatchEgress(Workload) returns (stream EgressPolicy)}. */
    public static final String WATCH_EGRESS = "/trellis.policy.v1.Policy/WatchEgress";
    /** {@code rpc WatchWorkload(Workload) returns (stream WorkloadPorts)}. */
    public static final String WATCH_WORKLOAD = "/trellis.policy.v1.Policy/WatchWorkload";

    private PolicyService() {
    }
}
