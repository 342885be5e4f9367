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
 * message at once; after that, each subscription whose view changed sends one update per
 * change, at most one per {@code window}. A change after a quiet window goes out at once (the
 * leading edge: a route edit reaches every watching proxy within milliseconds); changes within
 * a window of the last one go out together at its end. This is the churn coalescing of finding
 * 2: a pod flapping many times a second yields at most one update per window per stream. Every
 * window a heartbeat lets subscriptions that could not take the last change catch up, and cuts
 * off those too slow for too long. Thread-safe.
 */
final class Publisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Publisher.class);

    private final ClusterSource source;
    private final DestinationMetrics metrics;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("trellis-destination-publisher").daemon().factory());
    private final Set<Subscription<?>> subscriptions = ConcurrentHashMap.newKeySet();
    private final AutoCloseable sourceSubscription;
    private final long windowNanos;
    /** The snapshot every subscription is brought to; changes only on the publisher thread. */
    private ClusterSnapshot published;
    private long lastChangeNanos;
    private boolean changeScheduled;

    Publisher(ClusterSource source, Duration window, DestinationMetrics metrics) {
        this.source = source;
        this.metrics = metrics;
        this.windowNanos = window.toNanos();
        this.published = source.current();
        this.lastChangeNanos = System.nanoTime() - windowNanos;
        this.sourceSubscription = source.subscribe(snapshot -> {
            snapshot.sizes().forEach((kind, size) -> metrics.indexSize.labelValues(kind).set(size));
            thread.execute(this::changed);
        });
        source.current().sizes().forEach((kind, size) -> metrics.indexSize.labelValues(kind).set(size));
        thread.scheduleAtFixedRate(() -> tickAll(published), window.toMillis(), window.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The source has a new snapshot: published now when the last change went out a window ago or more, else at the window's end. */
    private void changed() {
        if (changeScheduled) {
            return;
        }
        long wait = lastChangeNanos + windowNanos - System.nanoTime();
        if (wait <= 0) {
            publishChange();
            return;
        }
        changeScheduled = true;
        thread.schedule(() -> {
            changeScheduled = false;
            publishChange();
        }, wait, TimeUnit.NANOSECONDS);
    }

    private void publishChange() {
        ClusterSnapshot current = source.current();
        if (current.generation() == published.generation()) {
            return;
        }
        published = current;
        lastChangeNanos = System.nanoTime();
        tickAll(published);
    }

    /** Registers {@code subscription} and sends its first message. */
    void add(Subscription<?> subscription) {
        metrics.streamsOpen.labelValues(subscription.rpc()).inc();
        subscriptions.add(subscription);
        thread.execute(() -> {
            // The first message: what every other stream was last brought to, or newer when nothing went out yet.
            if (published.generation() == 0) {
                published = source.current();
            }
            subscription.tick(published, System.nanoTime());
        });
    }

    void remove(Subscription<?> subscription) {
        subscriptions.remove(subscription);
        subscription.release();
    }

    private void tickAll(ClusterSnapshot snapshot) {
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
