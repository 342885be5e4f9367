package dev.trellis.install;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The namespace the control plane lives in and what it shares: the trust anchors (a
 * ConfigMap every component and proxy mounts), the issuer (a {@code kubernetes.io/tls}
 * Secret, the shape cert-manager writes, so an external issuer drops in), and a NetworkPolicy
 * that denies all ingress to the namespace's pods unless a component's own policy admits it.
 */
public final class ControlPlaneNamespace {

    /** The ConfigMap that holds the trust anchors, and its key. */
    public static final String TRUST_ANCHORS_CONFIG_MAP = "trellis-identity-trust-anchors";
    public static final String TRUST_ANCHORS_KEY = "ca-bundle.crt";
    /** The issuer Secret (type kubernetes.io/tls: tls.crt, tls.key, ca.crt). */
    public static final String ISSUER_SECRET = "trellis-identity-issuer";
    /** The injector's webhook serving certificate (tls.crt, tls.key) and the CA of the webhook configuration's caBundle (ca.crt). */
    public static final String INJECTOR_TLS_SECRET = "trellis-injector-tls";
    static final String DEFAULT_DENY_POLICY = "trellis-default-deny";

    private ControlPlaneNamespace() {
    }

    static List<HasMetadata> objects(InstallOptions options) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(ControlPlaneWorkload.LABEL_PART_OF, ControlPlaneWorkload.PART_OF);
        labels.put(ControlPlaneWorkload.LABEL_VERSION, options.version());
        labels.put(ControlPlaneWorkload.LABEL_CONTROL_PLANE_NS, options.namespace());
        List<HasMetadata> objects = new ArrayList<>();
        Map<String, String> namespaceLabels = new LinkedHashMap<>(labels);
        // Every control-plane pod meets the restricted Pod Security Standard; the namespace enforces it.
        namespaceLabels.put("pod-security.kubernetes.io/enforce", "restricted");
        namespaceLabels.put(ControlPlaneWorkload.LABEL_INJECT, "disabled");
        objects.add(new NamespaceBuilder().withNewMetadata().withName(options.namespace()).withLabels(namespaceLabels).endMetadata().build());
        objects.add(new ConfigMapBuilder()
                .withMetadata(new ObjectMetaBuilder().withName(TRUST_ANCHORS_CONFIG_MAP).withNamespace(options.namespace()).withLabels(labels).build())
                .addToData(TRUST_ANCHORS_KEY, options.identity().trustAnchorsPem())
                .build());
        options.identity().issuer().ifPresent(issuer -> objects.add(new SecretBuilder()
                .withMetadata(new ObjectMetaBuilder().withName(ISSUER_SECRET).withNamespace(options.namespace()).withLabels(labels).build())
                .withType("kubernetes.io/tls")
                .addToStringData("tls.crt", issuer.certificatePem())
                .addToStringData("tls.key", issuer.keyPem())
                .addToStringData("ca.crt", options.identity().trustAnchorsPem())
                .build()));
        objects.add(new NetworkPolicyBuilder()
                .withMetadata(new ObjectMetaBuilder().withName(DEFAULT_DENY_POLICY).withNamespace(options.namespace()).withLabels(labels).build())
                .withNewSpec().withNewPodSelector().endPodSelector().withPolicyTypes("Ingress").endSpec()
                .build());
        return objects;
    }
}
