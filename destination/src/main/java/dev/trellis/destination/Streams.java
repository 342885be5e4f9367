package dev.trellis.destination;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Optional;
import java.util.function.Function;

/** Opening a stream the same way for every RPC: the caller's limits first, then the subscription. */
final class Streams {

    private final CallerLimits limits;
    private final Publisher publisher;
    private final DestinationMetrics metrics;

    Streams(CallerLimits limits, Publisher publisher, DestinationMetrics metrics) {
        this.limits = limits;
        this.publisher = publisher;
        this.metrics = metrics;
    }

    /**
     * Admits the current caller (or answers RESOURCE_EXHAUSTED naming the limit) and starts the
     * subscription {@code create} makes from its slot.
     */
    <T> void open(StreamObserver<T> responses, Function<CallerLimits.Slot, Subscription<T>> create) {
        Caller caller = Caller.current();
        CallerLimits.Admission admission = limits.tryOpen(caller);
        Optional<String> refused = admission.refusedBecause();
        if (refused.isPresent()) {
            metrics.limited.labelValues(refused.get()).inc();
            responses.onError(Status.RESOURCE_EXHAUSTED.withDescription(switch (refused.get()) {
                case "call_rate" -> "destination: " + caller.identity() + " calls too often; retry later";
                case "streams_per_identity" -> "destination: " + caller.identity() + " already holds " + limits.streamsPerIdentity() + " streams";
                default -> "destination: peer " + caller.peer() + " already holds " + limits.streamsPerPeer() + " streams";
            }).asRuntimeException());
            return;
        }
        Subscription<T> subscription = create.apply(admission.slot().orElseThrow());
        ((ServerCallStreamObserver<T>) responses).setOnCancelHandler(() -> publisher.remove(subscription));
        publisher.add(subscription);
    }
}
