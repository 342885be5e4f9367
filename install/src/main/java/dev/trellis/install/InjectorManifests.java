package dev.trellis.install;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.metadata.MetadataKeys;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirementBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * The proxy injector: its Deployment (two replicas and a PodDisruptionBudget, three under
 * {@code --ha}; the webhook on 8443, reading the trust anchors from the ConfigMap it mounts and
 * its serving certificate from the {@code trellis-injector-tls} Secret, reloading both), a
 * Service on 443, read access to namespaces (their labels and annotations, cached by a watch)
 * and nothing else, and the MutatingWebhookConfiguration.
 *
 * <p>The webhooks receive only pods that opted in, chosen by selectors the API server
 * evaluates itself — so that an injector that is down, or cannot reach the API server, can
 * refuse only pods that are to be meshed and never stops the rest of the cluster: one webhook
 * for namespaces labelled {@code trellis.dev/inject=enabled} (but pods labelled {@code
 * disabled}), one for pods labelled {@code enabled} in other namespaces. For those
 * {@code failurePolicy: Fail}: a pod that should be meshed is refused rather than admitted
 * without its proxy. No side effects, a 10 s timeout, never the control plane's namespace
 * or kube-system, CREATE of pods only.
 */
final class InjectorManifests {

    static final String ROLE = "injector";
    static final int WEBHOOK_PORT = 8443;
    static final int ADMIN_PORT = 9998;
    static final int PROBE_PORT = 9999;
    static final String TLS_SECRET = ControlPlaneNamespace.INJECTOR_TLS_SECRET;
    static final String TLS_DIR = "/var/run/trellis/injector-tls";
    static final String WEBHOOK_PATH = "/inject";
    /**
     * Measured (docs/benchmarks.md, bench/injector-memory.sh): with the image's sizing from its
     * 256Mi limit the injector peaked at 285-289 MiB under 50 concurrent admissions (the outside
     * review saw 219-232), its live set 27-34 MiB. A 64 MiB heap, C1 only (a third of C2's code
     * cache and compiler arenas; 1,500+ admissions/s still, p99 lower) and capped metaspace,
     * code cache and direct memory: 183 MiB at the same load, 73 MiB under the limit.
     */
    static final String JVM_OPTIONS = "-Xmx64m -XX:TieredStopAtLevel=1 -XX:MaxMetaspaceSize=80m -XX:ReservedCodeCacheSize=32m -XX:MaxDirectMemorySize=32m";

    private InjectorManifests() {
    }

    static List<HasMetadata> objects(InstallOptions options, InstallOptions.WebhookTls tls) {
        ControlPlaneWorkload workload = new ControlPlaneWorkload(options, ControlPlaneComponent.INJECTOR, ROLE, ControlPlaneWorkload.Replication.REDUNDANT);
        List<String> args = List.of("injector",
                "--namespace", options.namespace(),
                "--trust-domain", options.trustDomain(),
                "--cluster-domain", options.clusterDomain(),
                "--registry", options.registry(),
                "--proxy-version", options.version(),
                "--image-pull-policy", options.imagePullPolicy(),
                "--native-sidecar", options.nativeSidecar().toString(),
                "--trust-anchors", ControlPlaneWorkload.TRUST_ANCHORS_FILE,
                "--tls-cert", TLS_DIR + "/tls.crt",
                "--tls-key", TLS_DIR + "/tls.key",
                "--listen", "0.0.0.0:" + WEBHOOK_PORT,
                "--admin", "127.0.0.1:" + ADMIN_PORT,
                "--probe", "0.0.0.0:" + PROBE_PORT);
        var container = workload.container(args, List.of(ControlPlaneWorkload.port("webhook", WEBHOOK_PORT)),
                new ControlPlaneWorkload.Resources("50m", "1", "256Mi", JVM_OPTIONS), PROBE_PORT,
                List.of(ControlPlaneWorkload.trustAnchorsMount(),
                        new VolumeMountBuilder().withName("tls").withMountPath(TLS_DIR).withReadOnly(true).build()));
        var pod = workload.pod(container, List.of(ControlPlaneWorkload.trustAnchorsVolume(),
                new VolumeBuilder().withName("tls").withNewSecret().withSecretName(TLS_SECRET).withDefaultMode(0440).endSecret().build()), true);
        List<HasMetadata> objects = new ArrayList<>();
        objects.add(workload.serviceAccount());
        objects.addAll(workload.clusterRole(List.of(new PolicyRuleBuilder().withApiGroups("").withResources("namespaces")
                .withVerbs("get", "list", "watch").build())));
        objects.add(new SecretBuilder().withMetadata(workload.metadata(TLS_SECRET)).withType("kubernetes.io/tls")
                .addToStringData("tls.crt", tls.certificatePem())
                .addToStringData("tls.key", tls.keyPem())
                .addToStringData("ca.crt", tls.caPem())
                .build());
        objects.add(workload.deployment(pod, Map.of()));
        objects.add(new ServiceBuilder(workload.service(Map.of("webhook", WEBHOOK_PORT)))
                .editSpec().editFirstPort().withPort(443).endPort().endSpec().build());
        // The API server calls from outside the pod network: the webhook port is open to all, as probes are.
        objects.add(workload.networkPolicy(List.of(WEBHOOK_PORT, PROBE_PORT)));
        workload.disruptionBudget().ifPresent(objects::add);
        objects.add(webhookConfiguration(options, workload, tls));
        return objects;
    }

    /** The webhook for pods of opted-in namespaces. */
    static final String NAMESPACE_WEBHOOK = "namespaces.injector.trellis.dev";
    /** The webhook for opted-in pods of other namespaces. */
    static final String POD_WEBHOOK = "pods.injector.trellis.dev";

    static MutatingWebhookConfiguration webhookConfiguration(InstallOptions options, ControlPlaneWorkload workload, InstallOptions.WebhookTls tls) {
        LabelSelectorRequirement notOurs = new LabelSelectorRequirementBuilder().withKey(MetadataKeys.NAMESPACE_NAME).withOperator("NotIn")
                .withValues(options.namespace(), "kube-system").build();
        return new MutatingWebhookConfigurationBuilder()
                .withMetadata(workload.clusterMetadata())
                .withWebhooks(
                        webhook(NAMESPACE_WEBHOOK, options, workload, tls,
                                new LabelSelectorBuilder().withMatchExpressions(notOurs, requirement("In", MetadataKeys.ENABLED)).build(),
                                new LabelSelectorBuilder().withMatchExpressions(requirement("NotIn", MetadataKeys.DISABLED)).build()),
                        // A pod's own label wins over its namespace's, as the annotations always did: enabled in a namespace
                        // labelled disabled is meshed; the injector decides what the selectors let through.
                        webhook(POD_WEBHOOK, options, workload, tls,
                                new LabelSelectorBuilder().withMatchExpressions(notOurs, requirement("NotIn", MetadataKeys.ENABLED)).build(),
                                new LabelSelectorBuilder().withMatchExpressions(requirement("In", MetadataKeys.ENABLED)).build()))
                .build();
    }

    private static LabelSelectorRequirement requirement(String operator, String value) {
        return new LabelSelectorRequirementBuilder().withKey(MetadataKeys.INJECT).withOperator(operator).withValues(value).build();
    }

    private static MutatingWebhook webhook(String name, InstallOptions options, ControlPlaneWorkload workload, InstallOptions.WebhookTls tls,
                                           LabelSelector namespaces, LabelSelector pods) {
        return new MutatingWebhookBuilder()
                .withName(name)
                .withAdmissionReviewVersions("v1")
                .withSideEffects("None")
                .withFailurePolicy("Fail")
                .withReinvocationPolicy("Never")
                .withTimeoutSeconds(10)
                .withNewClientConfig()
                    .withCaBundle(Base64.getEncoder().encodeToString(tls.caPem().getBytes(StandardCharsets.US_ASCII)))
                    .withNewService().withNamespace(options.namespace()).withName(workload.name()).withPath(WEBHOOK_PATH).withPort(443).endService()
                .endClientConfig()
                .withNamespaceSelector(namespaces)
                .withObjectSelector(pods)
                .addNewRule()
                    .withApiGroups("").withApiVersions("v1").withResources("pods").withOperations("CREATE").withScope("Namespaced")
                .endRule()
                .build();
    }
}
