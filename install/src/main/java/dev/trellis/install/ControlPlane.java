package dev.trellis.install;

import dev.trellis.cluster.policy.PolicyCrds;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The control plane as Kubernetes objects: what {@code trellis install --crds} and {@code
 * trellis install} print, and what {@code trellis uninstall} deletes. One class per component
 * says what that component is ({@code IdentityManifests}, {@code DestinationManifests},
 * {@code VizManifests}, {@code InjectorManifests}); {@link ControlPlaneWorkload} what they all share.
 */
public final class ControlPlane {

    /** Where the installed dashboard listens inside the viz pod: its loopback, reached with a port-forward. */
    public static final int DASHBOARD_PORT = VizManifests.DASHBOARD_PORT;

    private ControlPlane() {
    }

    /** The labels that pick the installed viz pods (the metrics API and the dashboard). */
    public static java.util.Map<String, String> vizPodSelector() {
        return java.util.Map.of(ControlPlaneWorkload.LABEL_PART_OF, ControlPlaneWorkload.PART_OF, ControlPlaneWorkload.LABEL_COMPONENT, VizManifests.ROLE);
    }

    /** The labels that pick node mode's installed pods: the node agent's ({@code agent}) or the node proxy's. */
    public static java.util.Map<String, String> nodePodSelector(boolean agent) {
        return java.util.Map.of(ControlPlaneWorkload.LABEL_PART_OF, ControlPlaneWorkload.PART_OF, ControlPlaneWorkload.LABEL_COMPONENT,
                agent ? NodeManifests.AGENT_ROLE : NodeManifests.PROXY_ROLE);
    }

    /** The seven policy CRDs. */
    public static List<HasMetadata> crds() {
        return List.copyOf(PolicyCrds.all());
    }

    /**
     * Everything but the CRDs, namespace first. {@code random} makes the secrets generated at
     * install time (the metrics API's token).
     */
    public static List<HasMetadata> objects(InstallOptions options, SecureRandom random) {
        List<HasMetadata> objects = new ArrayList<>();
        objects.addAll(ControlPlaneNamespace.objects(options));
        objects.addAll(IdentityManifests.objects(options));
        objects.addAll(DestinationManifests.objects(options));
        objects.addAll(VizManifests.objects(options, random));
        options.webhook().ifPresent(tls -> objects.addAll(InjectorManifests.objects(options, tls)));
        if (options.nodeMode()) {
            objects.addAll(NodeManifests.objects(options));
        }
        return objects;
    }

    /**
     * {@code installed} reduced to what {@code kubectl delete} needs (kind, name, namespace),
     * in an order that deletes cleanly: admission webhooks first (so no pod creation waits on
     * an injector being deleted), then workloads, then everything else, cluster-scoped
     * objects, and the namespace last.
     */
    public static List<HasMetadata> forDeletion(List<HasMetadata> installed) {
        return installed.stream()
                .sorted(Comparator.comparingInt(ControlPlane::deletionRank))
                .map(ControlPlane::reference)
                .map(HasMetadata.class::cast)
                .toList();
    }

    private static int deletionRank(HasMetadata object) {
        return switch (object.getKind()) {
            case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration" -> 0;
            case "Deployment", "DaemonSet" -> 1;
            case "Namespace" -> 4;
            case "CustomResourceDefinition" -> 5;
            default -> object.getMetadata().getNamespace() == null ? 3 : 2;
        };
    }

    private static GenericKubernetesResource reference(HasMetadata object) {
        return new GenericKubernetesResourceBuilder()
                .withApiVersion(object.getApiVersion())
                .withKind(object.getKind())
                .withNewMetadata().withName(object.getMetadata().getName()).withNamespace(object.getMetadata().getNamespace()).endMetadata()
                .build();
    }
}
