package dev.trellis.cluster;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** For {@link ClusterSource} implementations: the current snapshot and the listeners told of new ones. Thread-safe. */
public final class SnapshotListeners {

    private static final Logger log = LoggerFactory.getLogger(SnapshotListeners.class);

    private final CopyOnWriteArrayList<Consumer<ClusterSnapshot>> listeners = new CopyOnWriteArrayList<>();
    private volatile ClusterSnapshot current = ClusterSnapshot.EMPTY;

    public ClusterSnapshot current() {
        return current;
    }

    public AutoCloseable subscribe(Consumer<ClusterSnapshot> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    /** Publishes {@code snapshot}; call from one thread at a time. */
    public void publish(ClusterSnapshot snapshot) {
        current = snapshot;
        for (Consumer<ClusterSnapshot> listener : listeners) {
            try {
                listener.accept(snapshot);
            } catch (RuntimeException e) {
                log.error("cluster: a snapshot listener failed", e);
            }
        }
    }
}
