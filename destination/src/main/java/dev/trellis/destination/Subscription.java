package dev.trellis.destination;

import dev.trellis.cluster.ClusterSnapshot;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;

/**
 * One open stream whose messages follow cluster state. The {@link Publisher} calls
 * {@link #tick} on its one thread, at most once per window; a subscription sends only when the
 * snapshot changed and the stream can take a message, so nothing queues behind a slow reader,
 * and a reader that cannot take one for too long is cut off.
 */
abstract class Subscription<T> {

    private final ServerCallStreamObserver<T> observer;
    private final String rpc;
    private final DestinationMetrics metrics;
    private final long slowAfterNanos;
    private final CallerLimits.Slot slot;
    private long seenGeneration = -1;
    private long notReadySince;
    private volatile boolean ended;

    Subscription(ServerCallStreamObserver<T> observer, String rpc, DestinationMetrics metrics, long slowAfterNanos, CallerLimits.Slot slot) {
        this.observer = observer;
        this.rpc = rpc;
        this.metrics = metrics;
        this.slowAfterNanos = slowAfterNanos;
        this.slot = slot;
    }

    String rpc() {
        return rpc;
    }

    boolean ended() {
        return ended;
    }

    /** Publisher thread only. */
    final void tick(ClusterSnapshot snapshot, long nowNanos) {
        if (ended || snapshot.generation() <= seenGeneration) {
            return;
        }
        if (!observer.isReady()) {
            if (notReadySince == 0) {
                notReadySince = nowNanos;
            } else if (nowNanos - notReadySince > slowAfterNanos) {
                metrics.limited.labelValues("slow_subscriber").inc();
                fail(Status.RESOURCE_EXHAUSTED.withDescription("destination: subscriber too slow; its stream is closed"));
            }
            return;
        }
        notReadySince = 0;
        seenGeneration = snapshot.generation();
        try {
            publish(snapshot);
        } catch (RuntimeException e) {
            fail(Status.INTERNAL.withDescription("destination: " + e.getMessage()));
        }
    }

    /** Sends what changed since the last publish (everything, the first time). Publisher thread only. */
    abstract void publish(ClusterSnapshot snapshot);

    final void send(T message) {
        observer.onNext(message);
        metrics.updatesSent.labelValues(rpc).inc();
    }

    final synchronized void fail(Status status) {
        if (!ended) {
            release();
            observer.onError(status.asRuntimeException());
        }
    }

    /** The stream is over (cancelled by the caller, failed, or the server is closing): give back its slot. */
    final synchronized void release() {
        if (!ended) {
            ended = true;
            slot.close();
            metrics.streamsOpen.labelValues(rpc).dec();
        }
    }

    final synchronized void complete() {
        if (!ended) {
            release();
            observer.onCompleted();
        }
    }
}
