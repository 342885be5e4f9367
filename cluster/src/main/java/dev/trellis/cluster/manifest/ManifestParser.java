package dev.trellis.cluster.manifest;

import dev.trellis.core.text.Causes;
import dev.trellis.cluster.policy.InvalidResourceException;
import dev.trellis.cluster.policy.PolicyParser;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.api.lowlevel.Parse;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.events.MappingEndEvent;
import org.snakeyaml.engine.v2.events.MappingStartEvent;
import org.snakeyaml.engine.v2.events.SequenceEndEvent;
import org.snakeyaml.engine.v2.events.SequenceStartEvent;
import org.snakeyaml.engine.v2.constructor.StandardConstructor;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * Reads the Kubernetes objects of one manifest file (YAML or JSON, several documents
 * allowed), as written: nothing is defaulted. Any error fails the whole file, naming the
 * file, the line and what is wrong. Limits: file size, document count and nesting depth below
 * (depth is checked on the parser's events, before anything recursive reads the tree: a
 * document nested 2,000 levels deep overflowed the stack), 50 aliases per document (no alias
 * bombs). Trellis policy resources are validated on the way.
 * Thread-safe.
 */
public final class ManifestParser {

    public static final int MAX_FILE_BYTES = 4 * 1024 * 1024;
    public static final int MAX_DOCUMENTS = 1000;
    /** Mappings and sequences inside one another; a Kubernetes object, CRD schemas included, needs far fewer. */
    public static final int MAX_DEPTH = 128;

    private final KubernetesSerialization serialization = new KubernetesSerialization();
    private final LoadSettings settings = LoadSettings.builder()
            .setMaxAliasesForCollections(50)
            .setCodePointLimit(MAX_FILE_BYTES)
            .setAllowDuplicateKeys(false)
            .build();

    /** A manifest that cannot be used; the message names {@code file:line}. */
    public static final class ManifestException extends Exception {
        ManifestException(String message) {
            super(message);
        }
    }

    /** Every object of the file, the items of a {@code List} in its place. */
    public List<HasMetadata> parse(String file, String text) throws ManifestException {
        List<HasMetadata> objects = new ArrayList<>();
        for (KubernetesResource document : documents(file, text)) {
            if (document instanceof KubernetesList list) {
                objects.addAll(list.getItems());
            } else {
                objects.add((HasMetadata) document);
            }
        }
        return objects;
    }

    /**
     * Every document of the file as written: each an object ({@link HasMetadata}) or a
     * {@link KubernetesList} of them ({@code kind: List}).
     */
    public List<KubernetesResource> documents(String file, String text) throws ManifestException {
        List<KubernetesResource> objects = new ArrayList<>();
        try {
            checkDepth(file, text);
            int count = 0;
            for (Node node : new Compose(settings).composeAllFromString(text)) {
                if (++count > MAX_DOCUMENTS) {
                    throw new ManifestException(file + ": more than " + MAX_DOCUMENTS + " documents");
                }
                int line = node.getStartMark().map(m -> m.getLine() + 1).orElse(0);
                Object tree = new StandardConstructor(settings).constructSingleDocument(Optional.of(node));
                if (tree == null) {
                    continue;
                }
                objects.add(toObject(file + ":" + line, tree));
            }
        } catch (MarkedYamlEngineException e) {
            Optional<Mark> mark = e.getProblemMark();
            throw new ManifestException(file + ":" + mark.map(m -> (m.getLine() + 1) + ":" + (m.getColumn() + 1)).orElse("?")
                    + ": not valid YAML: " + e.getProblem());
        } catch (YamlEngineException e) {
            throw new ManifestException(file + ": not valid YAML: " + e.getMessage());
        }
        return objects;
    }

    /** Refuses nesting deeper than {@link #MAX_DEPTH}, naming where it goes too deep, from the parser's events (no recursion). */
    private void checkDepth(String file, String text) throws ManifestException {
        int depth = 0;
        for (Event event : new Parse(settings).parseString(text)) {
            if (event instanceof MappingStartEvent || event instanceof SequenceStartEvent) {
                if (++depth > MAX_DEPTH) {
                    String at = event.getStartMark().map(m -> (m.getLine() + 1) + ":" + (m.getColumn() + 1)).orElse("?");
                    throw new ManifestException(file + ":" + at + ": nested more than " + MAX_DEPTH + " levels deep");
                }
            } else if (event instanceof MappingEndEvent || event instanceof SequenceEndEvent) {
                depth--;
            }
        }
    }

    private KubernetesResource toObject(String where, Object tree) throws ManifestException {
        if (!(tree instanceof Map<?, ?> map) || !(map.get("kind") instanceof String kind) || !(map.get("apiVersion") instanceof String)) {
            throw new ManifestException(where + ": a document must be an object with apiVersion and kind");
        }
        Object converted;
        try {
            converted = serialization.convertValue(tree, KubernetesResource.class);
        } catch (RuntimeException e) {
            throw new ManifestException(where + ": " + kind + ": " + Causes.rootMessage(e));
        }
        if (converted instanceof KubernetesList list) {
            List<HasMetadata> items = list.getItems() == null ? List.of() : list.getItems();
            for (int i = 0; i < items.size(); i++) {
                checked(where + ": items[" + i + "]", items.get(i), items.get(i) == null ? "null" : items.get(i).getKind());
            }
            return list;
        }
        if (!(converted instanceof HasMetadata object)) {
            throw new ManifestException(where + ": " + kind + " is not a Kubernetes object");
        }
        return checked(where, object, kind);
    }

    private static HasMetadata checked(String where, HasMetadata object, String kind) throws ManifestException {
        if (object == null || object.getMetadata() == null || object.getMetadata().getName() == null) {
            throw new ManifestException(where + ": " + kind + " without metadata.name");
        }
        if (object instanceof GenericKubernetesResource generic && PolicyParser.isPolicy(generic)) {
            try {
                PolicyParser.parse(generic);
            } catch (InvalidResourceException e) {
                throw new ManifestException(where + ": " + e.getMessage());
            }
        }
        return object;
    }
}
