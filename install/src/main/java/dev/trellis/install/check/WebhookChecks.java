package dev.trellis.install.check;

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

/**
 * The proxy injector's webhook as the API server will call it: the configuration is there
 * with {@code failurePolicy: Fail}, its caBundle verifies the serving certificate the
 * injector loads, that certificate names the Service the API server calls, and both are
 * within their validity. A caBundle that does not verify makes the API server refuse every
 * pod the webhook selects.
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
        MutatingWebhook webhook = configuration.getWebhooks().getFirst();
        if (!"Fail".equals(webhook.getFailurePolicy())) {
            results.add(CheckResult.error(description, "failurePolicy is " + webhook.getFailurePolicy()
                    + ": pods would be admitted without a proxy while the injector is down", HINT));
        } else {
            results.add(CheckResult.ok(description));
        }
        String bundleDescription = "webhook caBundle verifies the injector's serving certificate";
        String caBundle = webhook.getClientConfig() == null ? null : webhook.getClientConfig().getCaBundle();
        if (caBundle == null || caBundle.isBlank()) {
            results.add(CheckResult.error(bundleDescription, "the webhook has no caBundle", HINT));
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
}
