package dev.trellis.install.check;

import dev.trellis.core.metadata.MetadataKeys;
import dev.trellis.install.ControlPlaneNamespace;
import dev.trellis.install.InstallOptions;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.ServingCertificates;
import dev.trellis.tls.pki.TrustAnchors;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The proxy injector's webhooks as the API server will call them: the configuration is there,
 * each webhook is sent only pods that opted in (by the {@code trellis.dev/inject} label, on the
 * pod or its namespace) and fails closed for those, their caBundle verifies the serving
 * certificate the injector loads, that certificate names the Service the API server calls,
 * and both are within their validity. A caBundle that does not verify makes the API server
 * refuse every pod the webhooks select. Namespaces that opt in by the annotation alone (as
 * before the label was selected on) are named: their new pods are not meshed.
 */
final class WebhookChecks {

    static final String HINT = "docs/install.md#check-injector";

    private WebhookChecks() {
    }

    static CheckReport.Category run(KubernetesClient client, String namespace, List<HasMetadata> expected, Duration expiryWarning, Instant now) {
        List<CheckResult> results = new ArrayList<>();
        check(client, namespace, expected, expiryWarning, now, results);
        return new CheckReport.Category("injector", results);
    }

    private static void check(KubernetesClient client, String namespace, List<HasMetadata> expected, Duration expiryWarning, Instant now,
                              List<CheckResult> results) {
        String description = "proxy injector webhook is configured to fail closed";
        Optional<String> name = expected.stream().filter(o -> o instanceof MutatingWebhookConfiguration).map(o -> o.getMetadata().getName()).findFirst();
        if (name.isEmpty()) {
            return;
        }
        MutatingWebhookConfiguration configuration = client.admissionRegistration().v1().mutatingWebhookConfigurations().withName(name.get()).get();
        if (configuration == null || configuration.getWebhooks() == null || configuration.getWebhooks().isEmpty()) {
            results.add(CheckResult.error(description, "no MutatingWebhookConfiguration " + name.get() + "; re-apply `trellis install`", HINT));
            return;
        }
        List<String> failOpen = configuration.getWebhooks().stream().filter(w -> !"Fail".equals(w.getFailurePolicy()))
                .map(w -> w.getName() + " (" + w.getFailurePolicy() + ")").toList();
        results.add(failOpen.isEmpty() ? CheckResult.ok(description) : CheckResult.error(description, "failurePolicy of " + String.join(", ", failOpen)
                + ": pods would be admitted without a proxy while the injector is down", HINT));
        String scopeDescription = "proxy injector webhooks are sent only pods that opted in";
        List<String> broad = configuration.getWebhooks().stream().filter(w -> !selectsOnlyOptedIn(w)).map(MutatingWebhook::getName).toList();
        results.add(broad.isEmpty() ? CheckResult.ok(scopeDescription) : CheckResult.error(scopeDescription, String.join(", ", broad)
                + " selects pods that did not opt in: while the injector is down, the API server refuses them; re-apply `trellis install`", HINT));
        results.add(annotatedOnly(client));
        MutatingWebhook webhook = configuration.getWebhooks().getFirst();
        String bundleDescription = "webhook caBundle verifies the injector's serving certificate";
        String caBundle = webhook.getClientConfig() == null ? null : webhook.getClientConfig().getCaBundle();
        if (caBundle == null || caBundle.isBlank()) {
            results.add(CheckResult.error(bundleDescription, "the webhook has no caBundle", HINT));
            return;
        }
        List<String> otherBundles = configuration.getWebhooks().stream()
                .filter(w -> w.getClientConfig() == null || !caBundle.equals(w.getClientConfig().getCaBundle())).map(MutatingWebhook::getName).toList();
        if (!otherBundles.isEmpty()) {
            results.add(CheckResult.error(bundleDescription, String.join(", ", otherBundles) + " has another caBundle than " + webhook.getName()
                    + "; re-apply `trellis install` to write them anew", HINT));
            return;
        }
        TrustAnchors bundle;
        try {
            bundle = TrustAnchors.parse(new String(Base64.getDecoder().decode(caBundle), StandardCharsets.US_ASCII), "the webhook's caBundle");
        } catch (IOException | IllegalArgumentException e) {
            results.add(CheckResult.error(bundleDescription, e.getMessage(), HINT));
            return;
        }
        Secret secret = client.secrets().inNamespace(namespace).withName(ControlPlaneNamespace.INJECTOR_TLS_SECRET).get();
        Optional<String> certificatePem = IdentityChecks.data(secret, "tls.crt");
        if (certificatePem.isEmpty()) {
            results.add(CheckResult.error(bundleDescription, "no tls.crt in Secret " + namespace + "/" + ControlPlaneNamespace.INJECTOR_TLS_SECRET, HINT));
            return;
        }
        List<X509Certificate> chain;
        try {
            chain = Pem.parseCertificates(certificatePem.get(), "Secret " + namespace + "/" + ControlPlaneNamespace.INJECTOR_TLS_SECRET + " tls.crt");
            bundle.verify(chain, chain.getFirst().getNotBefore().toInstant().plusSeconds(1));
        } catch (IOException | CertificateException e) {
            results.add(CheckResult.error(bundleDescription, e.getMessage()
                    + "\nthe API server would refuse every pod the webhook selects; re-apply `trellis install` to write both anew", HINT));
            return;
        }
        String service = InstallOptions.WebhookTls.serviceName(namespace);
        List<String> names = ServingCertificates.dnsNames(chain.getFirst());
        if (!names.contains(service)) {
            results.add(CheckResult.error(bundleDescription, "the serving certificate names " + names + ", not " + service, HINT));
            return;
        }
        results.add(CheckResult.ok(bundleDescription));
        List<X509Certificate> all = new ArrayList<>(chain);
        all.addAll(bundle.certificates());
        results.add(IdentityChecks.validity("webhook certificates are within their validity period", all, now, expiryWarning, HINT));
    }

    /** The webhook's namespace or object selector requires {@code trellis.dev/inject In [enabled]}. */
    static boolean selectsOnlyOptedIn(MutatingWebhook webhook) {
        return Stream.of(webhook.getNamespaceSelector(), webhook.getObjectSelector()).filter(java.util.Objects::nonNull)
                .anyMatch(selector -> MetadataKeys.ENABLED.equals(selector.getMatchLabels() == null ? null : selector.getMatchLabels().get(MetadataKeys.INJECT))
                        || (selector.getMatchExpressions() != null && selector.getMatchExpressions().stream().anyMatch(r -> MetadataKeys.INJECT.equals(r.getKey())
                        && "In".equals(r.getOperator()) && List.of(MetadataKeys.ENABLED).equals(r.getValues()))));
    }

    /** Namespaces annotated {@code trellis.dev/inject: enabled} without the label: the API server does not send their pods to the injector. */
    private static CheckResult annotatedOnly(KubernetesClient client) {
        String description = "namespaces that ask for injection carry the trellis.dev/inject label";
        List<io.fabric8.kubernetes.api.model.Namespace> namespaces;
        try {
            namespaces = client.namespaces().list().getItems();
        } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
            return CheckResult.warning(description, "cannot list namespaces: " + e.getMessage(), "docs/inject.md#opting-in");
        }
        List<String> names = namespaces.stream()
                .filter(ns -> ns.getMetadata().getAnnotations() != null && MetadataKeys.ENABLED.equals(ns.getMetadata().getAnnotations().get(MetadataKeys.INJECT)))
                .filter(ns -> ns.getMetadata().getLabels() == null || !ns.getMetadata().getLabels().containsKey(MetadataKeys.INJECT))
                .map(ns -> ns.getMetadata().getName()).sorted().toList();
        if (names.isEmpty()) {
            return CheckResult.ok(description);
        }
        return CheckResult.warning(description, "annotated but not labelled: " + String.join(", ", names)
                + "\nthe injector's webhooks select on the label, so new pods there are not meshed; for each: kubectl label namespace NAME "
                + MetadataKeys.INJECT + "=" + MetadataKeys.ENABLED, "docs/inject.md#opting-in");
    }
}
