package dev.trellis.destination;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives every {@link Subscription} from one thread: a new subscription gets its first
 * message at once; after that, every {@code window} each subscription whose view changed
 * sends one update. This is the churn coalescing of finding 2: a pod flapping many times a
 * second yields at most one update per window per stream. Thread-safe.
 */
final class Publisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Publisher.class);

    private final ClusterSource source;
    private final DestinationMetrics metrics;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("trellis-destination-publisher").daemon().factory());
    private final Set<Subscription<?>> subscriptions = ConcurrentHashMap.newKeySet();
    private final AutoCloseable sourceSubscription;

    Publisher(ClusterSource source, Duration window, DestinationMetrics metrics) {
        this.source = source;
        this.metrics = metrics;
        this.sourceSubscription = source.subscribe(snapshot -> snapshot.sizes().forEach((kind, size) -> metrics.indexSize.labelValues(kind).set(size)));
        source.current().sizes().forEach((kind, size) -> metrics.indexSize.labelValues(kind).set(size));
        thread.scheduleAtFixedRate(this::tickAll, window.toMillis(), window.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Registers {@code subscription} and sends its first message. */
    void add(Subscription<?> subscription) {
        metrics.streamsOpen.labelValues(subscription.rpc()).inc();
        subscriptions.add(subscription);
        thread.execute(() -> subscription.tick(source.current(), System.nanoTime()));
    }

    void remove(Subscription<?> subscription) {
        subscriptions.remove(subscription);
        subscription.release();
    }

    private void tickAll() {
        ClusterSnapshot snapshot = source.current();
        long now = System.nanoTime();
        for (Subscription<?> subscription : subscriptions) {
            try {
                subscription.tick(snapshot, now);
            } catch (RuntimeException e) {
                log.error("destination: a subscription failed", e);
            }
            if (subscription.ended()) {
                subscriptions.remove(subscription);
            }
        }
    }

    int size() {
        return subscriptions.size();
    }

    /** Ends every stream (callers reconnect to another replica) and stops. */
    @Override
    public void close() {
        try {
            sourceSubscription.close();
        } catch (Exception ignored) {
            // the source is closing too
        }
        try {
            thread.submit(() -> subscriptions.forEach(Subscription::complete)).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("destination: could not end every stream: {}", e.toString());
        }
        thread.shutdownNow();
    }
}
