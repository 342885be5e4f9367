package dev.trellis.injector.manifests;

import dev.trellis.cluster.manifest.ManifestParser;
import dev.trellis.cluster.manifest.ManifestStream;
import dev.trellis.core.metadata.MetadataKeys;
import dev.trellis.injector.Annotations;
import dev.trellis.injector.NamespaceMetadata;
import dev.trellis.injector.PodInjector;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.ReplicationController;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code trellis inject} and {@code uninject} on manifests: every pod template of every
 * workload kind (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job,
 * CronJob), bare Pods and Lists of them, in YAML or JSON, many documents per file. The
 * default marks each pod template for the webhook: the {@code trellis.dev/inject=enabled}
 * label (what the webhook's object selector matches) and the annotation of the same name;
 * a pod the injector would leave alone (host network, already injected) is left unmarked and
 * reported as skipped, with the reason. {@code --manual} applies the whole mutation here
 * ({@link PodInjector}, as the webhook would); uninject removes both. Other kinds pass
 * through unchanged. Injecting twice gives what injecting once gave.
 */
public final class ManifestInjector {

    /** What to do to each pod template. */
    public enum Mode { ANNOTATE, MANUAL, UNINJECT }

    /** What happened, for the summary {@code inject} prints on stderr: objects changed, unchanged, and skipped with why. */
    public record Result(String yaml, List<String> changed, List<String> unchanged, List<String> skipped) {}

    private final Optional<PodInjector> manual;
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private final ManifestParser parser = new ManifestParser();

    /** {@code manual}: the mutation for {@link Mode#MANUAL}; empty when only annotating or uninjecting. */
    public ManifestInjector(Optional<PodInjector> manual) {
        this.manual = manual;
    }

    /**
     * Every document of {@code text} ({@code source} names it in errors) with {@code mode} applied.
     *
     * @throws ManifestParser.ManifestException naming the source and line when the text is not
     *                                          YAML or JSON Kubernetes objects
     * @throws IllegalArgumentException naming the source and object when an annotation does not parse
     */
    public Result apply(String text, String source, Mode mode) throws ManifestParser.ManifestException {
        if (mode == Mode.MANUAL && manual.isEmpty()) {
            throw new IllegalStateException("inject: manual injection needs the mesh's settings");
        }
        List<KubernetesResource> out = new ArrayList<>();
        Outcomes outcomes = new Outcomes();
        for (KubernetesResource document : parser.documents(source, text)) {
            if (document instanceof KubernetesList list) {
                List<HasMetadata> items = new ArrayList<>();
                for (HasMetadata item : list.getItems()) {
                    items.add(transform(item, mode, source, outcomes));
                }
                list.setItems(items);
                out.add(list);
            } else {
                out.add(transform((HasMetadata) document, mode, source, outcomes));
            }
        }
        return new Result(ManifestStream.yaml(out), outcomes.changed, outcomes.unchanged, outcomes.skipped);
    }

    /** What happened to each object of one source, in order. */
    private static final class Outcomes {
        final List<String> changed = new ArrayList<>();
        final List<String> unchanged = new ArrayList<>();
        final List<String> skipped = new ArrayList<>();

        void record(String name, boolean didChange, java.util.Optional<String> skipReason) {
            if (skipReason.isPresent()) {
                skipped.add(name + ": " + skipReason.get());
            } else {
                (didChange ? changed : unchanged).add(name);
            }
        }
    }

    private HasMetadata transform(HasMetadata object, Mode mode, String source, Outcomes outcomes) {
        String name = object.getKind() + "/" + object.getMetadata().getName();
        String namespace = object.getMetadata().getNamespace() == null ? "default" : object.getMetadata().getNamespace();
        switch (object) {
            case Pod pod -> {
                Pod result = pod(pod, namespace, mode, source, name);
                outcomes.record(name, !result.equals(pod), skipReason(pod, mode));
                return result;
            }
            default -> {
                Optional<PodTemplateSpec> template = template(object);
                if (template.isEmpty()) {
                    outcomes.record(name, false, Optional.empty());
                    return object;
                }
                Pod before = new PodBuilder().withMetadata(template.get().getMetadata()).withSpec(template.get().getSpec()).build();
                Pod after = pod(before, namespace, mode, source, name);
                // A template written without metadata stays so when nothing is left in it (uninject).
                template.get().setMetadata(isEmpty(after.getMetadata()) ? null : after.getMetadata());
                template.get().setSpec(after.getSpec());
                outcomes.record(name, !after.equals(before), skipReason(before, mode));
                return object;
            }
        }
    }

    private Pod pod(Pod pod, String namespace, Mode mode, String source, String name) {
        return switch (mode) {
            case UNINJECT -> PodInjector.uninject(pod);
            case ANNOTATE -> {
                if (PodInjector.unmeshable(pod.getSpec(), true, List.of()).isPresent()) {
                    yield pod;
                }
                ObjectMeta metadata = pod.getMetadata() == null ? new ObjectMeta() : pod.getMetadata();
                Map<String, String> annotations = new LinkedHashMap<>(metadata.getAnnotations() == null ? Map.of() : metadata.getAnnotations());
                Map<String, String> labels = new LinkedHashMap<>(metadata.getLabels() == null ? Map.of() : metadata.getLabels());
                annotations.put(Annotations.INJECT, MetadataKeys.ENABLED);
                labels.put(MetadataKeys.INJECT, MetadataKeys.ENABLED);
                yield new PodBuilder(pod).editOrNewMetadata().withAnnotations(annotations).withLabels(labels).endMetadata().build();
            }
            case MANUAL -> {
                try {
                    yield switch (manual.orElseThrow().inject(pod, NamespaceMetadata.bare(namespace), true)) {
                        case PodInjector.Decision.Injected injected -> injected.pod();
                        case PodInjector.Decision.Skipped skipped -> pod;
                    };
                } catch (Annotations.InvalidAnnotationException e) {
                    throw new IllegalArgumentException("inject: " + source + ": " + name + ": " + e.getMessage(), e);
                }
            }
        };
    }

    /**
     * Why the injector will leave this pod alone whatever it is marked with (host network; a
     * pod with no spec), for {@code inject} to say instead of "injected"; empty otherwise, and
     * when uninjecting. A pod already injected is not skipped: it is unchanged.
     */
    private static Optional<String> skipReason(Pod pod, Mode mode) {
        if (mode == Mode.UNINJECT) {
            return Optional.empty();
        }
        return PodInjector.unmeshable(pod.getSpec(), true, List.of())
                .filter(skipped -> skipped.reason() != PodInjector.SkipReason.ALREADY_INJECTED)
                .map(skipped -> "skipped: " + skipped.detail() + "; the injector leaves such pods alone");
    }

    /** The pod template of a workload kind; empty for kinds that have none. */
    private static Optional<PodTemplateSpec> template(HasMetadata object) {
        return Optional.ofNullable(switch (object) {
            case Deployment d when d.getSpec() != null -> d.getSpec().getTemplate();
            case StatefulSet s when s.getSpec() != null -> s.getSpec().getTemplate();
            case DaemonSet d when d.getSpec() != null -> d.getSpec().getTemplate();
            case ReplicaSet r when r.getSpec() != null -> r.getSpec().getTemplate();
            case ReplicationController r when r.getSpec() != null -> r.getSpec().getTemplate();
            case Job j when j.getSpec() != null -> j.getSpec().getTemplate();
            case CronJob c when c.getSpec() != null && c.getSpec().getJobTemplate() != null && c.getSpec().getJobTemplate().getSpec() != null ->
                    c.getSpec().getJobTemplate().getSpec().getTemplate();
            default -> null;
        });
    }

    private static boolean isEmpty(ObjectMeta metadata) {
        return metadata == null || "{}".equals(SERIALIZATION.asJson(metadata));
    }
}
