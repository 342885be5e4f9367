package dev.trellis.destination;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.SnapshotListeners;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/** A cluster source a test sets directly, as fast as it likes (for churn tests). */
final class MutableClusterSource implements ClusterSource {

    private final SnapshotListeners snapshots = new SnapshotListeners();
    private final KubernetesSerialization serialization = new KubernetesSerialization();
    private long generation;

    /** Replaces the state with the objects of {@code yaml}. */
    synchronized void set(String yaml) {
        ClusterSnapshot.Builder builder = new ClusterSnapshot.Builder();
        for (String document : yaml.split("(?m)^---\\s*$")) {
            if (document.isBlank()) {
                continue;
            }
            Object parsed = serialization.unmarshal(new ByteArrayInputStream(document.getBytes(StandardCharsets.UTF_8)));
            for (Object object : parsed instanceof List<?> list ? list : List.of(parsed)) {
                builder.add((HasMetadata) object);
            }
        }
        snapshots.publish(builder.build(++generation));
    }

    @Override
    public ClusterSnapshot current() {
        return snapshots.current();
    }

    @Override
    public AutoCloseable subscribe(Consumer<ClusterSnapshot> listener) {
        return snapshots.subscribe(listener);
    }

    @Override
    public boolean synced() {
        return generation > 0;
    }

    @Override
    public Optional<String> problem() {
        return Optional.empty();
    }

    @Override
    public String describe() {
        return "test";
    }

    @Override
    public void close() {
    }
}
