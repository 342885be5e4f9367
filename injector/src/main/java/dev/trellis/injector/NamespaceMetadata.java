package dev.trellis.injector;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.Namespace;
import java.util.Map;

/**
 * What the injector reads of a pod's namespace: its labels (the opt-in the API server selects
 * on) and its annotations (defaults for its pods' settings).
 */
public record NamespaceMetadata(String name, Map<String, String> labels, Map<String, String> annotations) {

    public NamespaceMetadata {
        requireNonNull(name, "name");
        labels = Map.copyOf(labels);
        annotations = Map.copyOf(annotations);
    }

    /** A namespace with neither labels nor annotations (what {@code trellis inject --manual} assumes). */
    public static NamespaceMetadata bare(String name) {
        return new NamespaceMetadata(name, Map.of(), Map.of());
    }

    /** The labels and annotations of {@code namespace} as stored. */
    public static NamespaceMetadata of(Namespace namespace) {
        var metadata = namespace.getMetadata();
        return new NamespaceMetadata(metadata.getName(), metadata.getLabels() == null ? Map.of() : metadata.getLabels(),
                metadata.getAnnotations() == null ? Map.of() : metadata.getAnnotations());
    }
}
