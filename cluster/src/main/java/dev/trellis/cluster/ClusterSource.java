package dev.trellis.cluster;

import java.util.Optional;
import java.util.function.Consumer;

/**
 * Where cluster state comes from: Kubernetes informers or a local directory of manifests.
 * Thread-safe.
 */
public interface ClusterSource extends AutoCloseable {

    /** The latest snapshot; {@link ClusterSnapshot#EMPTY} before the first. */
    ClusterSnapshot current();

    /**
     * Calls {@code listener} with every later snapshot, on the source's own thread, in order.
     * Closing the returned handle stops the calls.
     */
    AutoCloseable subscribe(Consumer<ClusterSnapshot> listener);

    /** Whether the source has its first full view (for {@code /ready}). */
    boolean synced();

    /** Empty when healthy; otherwise what is wrong (a lost watch, a broken file), for {@code /ready} and logs. */
    Optional<String> problem();

    /** Where the status of Gateway API routes is written; empty when this source cannot write it. */
    default Optional<dev.trellis.cluster.routes.RouteStatus.Sink> routeStatus() {
        return Optional.empty();
    }

    /** A short description for logs: {@code kubernetes} or {@code local /path}. */
    String describe();

    @Override
    void close();
}
