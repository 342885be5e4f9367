package dev.trellis.destination;

import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.InboundPort;
import dev.trellis.api.policy.v1.InboundServer;
import dev.trellis.api.policy.v1.PolicyGrpc;
import dev.trellis.api.policy.v1.Workload;
import dev.trellis.api.policy.v1.WorkloadPorts;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.ObjectKey;
import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.destination.translate.DeclaredPorts;
import dev.trellis.destination.translate.EgressPolicies;
import dev.trellis.destination.translate.InboundPolicies;
import io.fabric8.kubernetes.api.model.Pod;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Optional;
import java.util.function.BiFunction;

/**
 * {@code WatchInbound}, {@code WatchEgress} and {@code WatchWorkload}: a workload's policies
 * and declared ports, a full message on every change. A caller may watch only its own workload: the pod must run as the caller's service
 * account in the caller's namespace (finding 10).
 */
final class PolicyService extends PolicyGrpc.PolicyImplBase {

    private final DestinationServerConfig config;
    private final ClusterSource source;
    private final Streams streams;
    private final DestinationMetrics metrics;

    PolicyService(DestinationServerConfig config, ClusterSource source, Streams streams, DestinationMetrics metrics) {
        this.config = config;
        this.source = source;
        this.streams = streams;
        this.metrics = metrics;
    }

    @Override
    public void watchInbound(InboundPort request, StreamObserver<InboundServer> responses) {
        if (request.getPort() < 1 || request.getPort() > 65535) {
            responses.onError(Status.INVALID_ARGUMENT.withDescription("destination: port " + request.getPort() + " is not 1-65535").asRuntimeException());
            return;
        }
        int port = request.getPort();
        watch(request.getWorkload(), responses, "WatchInbound",
                (snapshot, pod) -> InboundPolicies.of(snapshot, pod, port, config.defaultInboundPolicy(), config.clusterNetworks(), config.trustDomain()));
    }

    @Override
    public void watchEgress(Workload request, StreamObserver<EgressPolicy> responses) {
        watch(request, responses, "WatchEgress", EgressPolicies::of);
    }

    @Override
    public void watchWorkload(Workload request, StreamObserver<WorkloadPorts> responses) {
        watch(request, responses, "WatchWorkload", DeclaredPorts::of);
    }

    private <T> void watch(Workload workload, StreamObserver<T> responses, String rpc, BiFunction<ClusterSnapshot, Pod, T> translate) {
        Caller caller = Caller.current();
        Optional<Status> refused = ownership(source.current(), workload, caller.identity());
        if (refused.isPresent()) {
            responses.onError(refused.get().asRuntimeException());
            return;
        }
        ObjectKey key = new ObjectKey(workload.getNamespace(), workload.getName());
        ServerCallStreamObserver<T> observer = (ServerCallStreamObserver<T>) responses;
        streams.open(responses, slot -> new Subscription<>(observer, rpc, metrics, config.slowSubscriberTimeout().toNanos(), slot) {
            private T last;

            @Override
            void publish(ClusterSnapshot snapshot) {
                Optional<Status> now = ownership(snapshot, workload, caller.identity());
                if (now.isPresent()) {
                    fail(now.get());
                    return;
                }
                T message = translate.apply(snapshot, snapshot.pod(key).orElseThrow());
                if (!message.equals(last)) {
                    last = message;
                    send(message);
                }
            }
        });
    }

    /** NOT_FOUND for an unknown workload, PERMISSION_DENIED for somebody else's. */
    private Optional<Status> ownership(ClusterSnapshot snapshot, Workload workload, WorkloadIdentity caller) {
        Optional<Pod> pod = snapshot.pod(new ObjectKey(workload.getNamespace(), workload.getName()));
        if (pod.isEmpty()) {
            return Optional.of(Status.NOT_FOUND.withDescription("destination: no workload " + workload.getNamespace() + "/"
                    + dev.trellis.core.text.UntrustedText.printable(workload.getName(), 80)));
        }
        String account = dev.trellis.cluster.Workloads.serviceAccount(pod.get());
        WorkloadIdentity owner = new WorkloadIdentity(config.trustDomain(), workload.getNamespace(), account);
        if (!IdentityPattern.exactly(owner).matches(caller)) {
            metrics.limited.labelValues("not_own_workload").inc();
            return Optional.of(Status.PERMISSION_DENIED.withDescription("destination: " + caller + " cannot watch the policy of "
                    + workload.getNamespace() + "/" + workload.getName() + ", which runs as " + owner));
        }
        return Optional.empty();
    }
}
