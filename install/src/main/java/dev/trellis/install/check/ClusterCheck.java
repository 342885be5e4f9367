package dev.trellis.install.check;

import dev.trellis.install.ControlPlane;
import dev.trellis.install.InstallOptions;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code trellis check}: the Kubernetes API first (nothing else runs without it), then either
 * the pre-install checks or the control plane, its identity PKI and, when asked, the data
 * plane. What the control plane should consist of is what {@code trellis install} renders
 * for the same namespace and trust domain, so the two cannot disagree.
 */
public final class ClusterCheck {

    private static final InstallOptions.WebhookTls STAND_IN_WEBHOOK = new InstallOptions.WebhookTls("", "", "");

    private ClusterCheck() {
    }

    public static CheckReport run(KubernetesClient client, CheckOptions options, Clock clock) {
        List<CheckReport.Category> categories = new ArrayList<>();
        if (KubernetesApiChecks.run(client, categories).isEmpty()) {
            return new CheckReport(categories);
        }
        if (options.preInstall()) {
            categories.add(PreInstallChecks.run(client, options.namespace(), clock));
            return new CheckReport(categories);
        }
        List<HasMetadata> expected = expected(options);
        categories.add(ControlPlaneChecks.run(client, options.namespace(), expected));
        categories.add(IdentityChecks.run(client, options.namespace(), options.expiryWarning(), clock));
        categories.add(VizChecks.run(client, options.namespace(), expected));
        CheckReport.Category injector = WebhookChecks.run(client, options.namespace(), expected, options.expiryWarning(), clock.instant());
        if (!injector.results().isEmpty()) {
            categories.add(injector);
        }
        NodeChecks.run(client, options.namespace()).ifPresent(categories::add);
        categories.add(RouteChecks.run(client));
        if (options.proxies()) {
            categories.add(DataPlaneChecks.run(client, options.namespace()));
        }
        return new CheckReport(categories);
    }

    /** The objects an installation of this namespace and trust domain has (their PKI does not matter here, so a stand-in webhook PKI will do). */
    private static List<HasMetadata> expected(CheckOptions options) {
        InstallOptions install = InstallOptions.builder(new InstallOptions.IdentityMaterial("", Optional.empty()))
                .namespace(options.namespace()).trustDomain(options.trustDomain()).clusterDomain(options.clusterDomain())
                .webhook(options.injector() ? Optional.of(STAND_IN_WEBHOOK) : Optional.empty()).build();
        return ControlPlane.objects(install, new SecureRandom());
    }
}
