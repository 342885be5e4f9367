package dev.trellis.install.check;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.install.ControlPlane;
import dev.trellis.install.InstallOptions;
import dev.trellis.install.InstallOptions.IdentityMaterial;
import dev.trellis.tls.pki.CaCertificates;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.Pem;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@code trellis check} against an API server holding what {@code trellis install} renders:
 * all passes, then one breakage at a time shows as the right error or warning.
 */
@EnableKubernetesMockClient(crud = true)
class ClusterCheckTest {

    private static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");
    private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

    KubernetesClient client;
    KubernetesMockServer server;

    @org.junit.jupiter.api.BeforeEach
    void aSupportedApiServer() {
        server.setVersionInfo(new VersionInfo.Builder().withMajor("1").withMinor("31").withGitVersion("v1.31.2").build());
    }

    @Test
    void aHealthyInstallationPassesEveryCheck() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        CheckReport report = check();
        assertThat(report.worst()).as(report.text()).isEqualTo(Outcome.OK);
        assertThat(report.categories()).extracting(CheckReport.Category::name)
                .containsExactly("kubernetes-api", "kubernetes-version", "control-plane", "identity", "viz", "injector", "gateway-api");
        assertThat(report.text()).contains("√ control plane Deployments are available").endsWith("Status check results are √\n");
    }

    @Test
    void theGatewayApisCrdsAreReportedWithTheirReleaseAndRefusedRoutesAreNamed() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        assertThat(check().text()).contains("the Gateway API's httproutes.gateway.networking.k8s.io CRD is not installed");
        dev.trellis.testing.cluster.GatewayApiCrds.standard("v1.3.0").forEach(crd -> client.apiextensions().v1().customResourceDefinitions().resource(crd).create());
        var route = client.resources(io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute.class).inNamespace("shop").resource(
                new io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteBuilder().withNewMetadata().withNamespace("shop").withName("split").endMetadata()
                        .withNewSpec().addNewParentRef().withGroup("").withKind("Service").withName("web").endParentRef().endSpec().build()).create();
        route.setStatus(new io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRouteStatusBuilder().addNewParent()
                .withControllerName(dev.trellis.cluster.routes.RouteStatus.CONTROLLER).withNewParentRef().withKind("Service").withName("web").endParentRef()
                .addToConditions(new io.fabric8.kubernetes.api.model.ConditionBuilder().withType("ResolvedRefs").withStatus("False")
                        .withReason("BackendNotFound").withMessage("backend Service shop/web-v2 does not exist").build())
                .endParent().build());
        client.resources(io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute.class).inNamespace("shop").resource(route).updateStatus();
        CheckReport report = check();
        assertThat(report.text()).contains("√ the Gateway API's httproutes.gateway.networking.k8s.io CRD serves gateway.networking.k8s.io/v1: v1.3.0 (standard channel)")
                .contains("HTTPRoute shop/split ResolvedRefs BackendNotFound: backend Service shop/web-v2 does not exist");
        assertThat(report.worst()).isEqualTo(Outcome.WARNING);
    }

    @Test
    void aDeletedCrdIsAnError() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        client.apiextensions().v1().customResourceDefinitions().withName("servers.policy.trellis.dev").delete();
        assertError(check(), "policy CRDs are installed with the version this CLI expects", "servers.policy.trellis.dev is missing");
    }

    @Test
    void aMissingClusterRoleIsAnError() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        client.rbac().clusterRoles().withName("trellis-trellis-destination").delete();
        assertError(check(), "control plane ClusterRoles exist", "ClusterRole trellis-trellis-destination");
    }

    @Test
    void anUnavailableDeploymentIsAnError() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        Deployment destination = client.apps().deployments().inNamespace("trellis").withName("trellis-destination").get();
        destination.setStatus(new DeploymentStatusBuilder().withReplicas(1).withAvailableReplicas(0).build());
        client.resource(destination).update();
        assertError(check(), "control plane Deployments are available", "trellis-destination: 0 of 1 replicas available");
    }

    @Test
    void aCaBundleThatDoesNotVerifyTheServingCertificateIsAnError() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        // A later install's CA in the webhook configuration, while the Secret keeps the earlier certificate.
        InstallOptions.WebhookTls other = InstallOptions.WebhookTls.generate("trellis", "cluster.local", NOW);
        var webhook = client.admissionRegistration().v1().mutatingWebhookConfigurations().withName("trellis-trellis-injector").get();
        webhook.getWebhooks().forEach(each -> each.getClientConfig().setCaBundle(
                java.util.Base64.getEncoder().encodeToString(other.caPem().getBytes(java.nio.charset.StandardCharsets.US_ASCII))));
        client.resource(webhook).update();
        assertError(check(), "webhook caBundle verifies the injector's serving certificate", "does not verify against the trust anchors");
    }

    @Test
    void aWebhookThatFailsOpenIsAnError() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        var webhook = client.admissionRegistration().v1().mutatingWebhookConfigurations().withName("trellis-trellis-injector").get();
        webhook.getWebhooks().getFirst().setFailurePolicy("Ignore");
        client.resource(webhook).update();
        assertError(check(), "proxy injector webhook is configured to fail closed", "admitted without a proxy");
    }

    @Test
    void aWebhookSentPodsThatDidNotOptInIsAnError() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        // As 0.2.0 first installed it: every pod outside kube-system and the control plane, unless labelled disabled.
        var webhook = client.admissionRegistration().v1().mutatingWebhookConfigurations().withName("trellis-trellis-injector").get();
        webhook.getWebhooks().getFirst().setNamespaceSelector(new io.fabric8.kubernetes.api.model.LabelSelectorBuilder().addNewMatchExpression()
                .withKey("kubernetes.io/metadata.name").withOperator("NotIn").withValues("trellis", "kube-system").endMatchExpression().build());
        client.resource(webhook).update();
        assertError(check(), "proxy injector webhooks are sent only pods that opted in", "namespaces.injector.trellis.dev selects pods that did not opt in");
    }

    @Test
    void aNamespaceThatOptsInByAnnotationAloneWarns() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        client.resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName("legacy")
                .addToAnnotations("trellis.dev/inject", "enabled").endMetadata().build()).create();
        client.resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName("current")
                .addToAnnotations("trellis.dev/inject", "enabled").addToLabels("trellis.dev/inject", "enabled").endMetadata().build()).create();
        CheckReport report = check();
        assertThat(line(report, "namespaces that ask for injection carry the trellis.dev/inject label")).startsWith("‼");
        assertThat(report.text()).contains("annotated but not labelled: legacy\n").contains("kubectl label namespace NAME trellis.dev/inject=enabled");
    }

    @Test
    void aWebhookCertificateNearItsEndWarns() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)), InstallOptions.WebhookTls.generate("trellis", "cluster.local",
                NOW.minus(InstallOptions.WebhookTls.LIFETIME).plus(Duration.ofDays(20))));
        CheckReport report = check();
        assertThat(report.worst()).as(report.text()).isEqualTo(Outcome.WARNING);
        assertThat(line(report, "webhook certificates are within their validity period")).startsWith("‼");
    }

    @Test
    void theDataPlaneCheckFindsProxiesNotReadyAndOfOtherVersions() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        client.resource(meshedPod("web-0", true, dev.trellis.core.version.TrellisVersion.current())).create();
        CheckReport healthy = ClusterCheck.run(client, CheckOptions.defaults().withProxies(true), CLOCK);
        assertThat(healthy.worst()).as(healthy.text()).isEqualTo(Outcome.OK);
        assertThat(healthy.text()).contains("√ meshed pods exist (1)");

        client.resource(meshedPod("web-1", false, dev.trellis.core.version.TrellisVersion.current())).create();
        client.resource(meshedPod("web-2", true, "0.1.0")).create();
        CheckReport report = ClusterCheck.run(client, CheckOptions.defaults().withProxies(true), CLOCK);
        assertError(report, "every meshed pod's proxy is ready", "shop/web-1");
        assertThat(line(report, "every proxy runs this CLI's version")).startsWith("‼");
        assertThat(report.text()).contains("shop/web-2 (0.1.0)");
    }

    @Test
    void aProxyLimitedBelowWhatItCanHoldUnderLoadWarns() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        String version = dev.trellis.core.version.TrellisVersion.current();
        client.resource(withProxyMemoryLimit(meshedPod("web-0", true, version), "320Mi")).create();
        client.resource(meshedPod("web-1", true, version)).create();
        CheckReport healthy = ClusterCheck.run(client, CheckOptions.defaults().withProxies(true), CLOCK);
        assertThat(healthy.worst()).as(healthy.text()).isEqualTo(Outcome.OK);
        assertThat(line(healthy, "every proxy's memory limit is at least 256Mi")).startsWith("√");

        // The default of earlier versions, and a lower limit written in Gi.
        client.resource(withProxyMemoryLimit(meshedPod("web-2", true, version), "192Mi")).create();
        client.resource(withProxyMemoryLimit(meshedPod("web-3", true, version), "0.1Gi")).create();
        CheckReport report = ClusterCheck.run(client, CheckOptions.defaults().withProxies(true), CLOCK);
        assertThat(report.worst()).as(report.text()).isEqualTo(Outcome.WARNING);
        assertThat(line(report, "every proxy's memory limit is at least 256Mi")).startsWith("‼");
        assertThat(report.text()).contains("shop/web-2 (192Mi)").contains("shop/web-3 (0.1Gi)").doesNotContain("shop/web-0 (")
                .contains("config.trellis.dev/proxy-memory-limit");
    }

    @Test
    void anInstallationFromBeforeTheDashboardIsToldToReapply() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        CheckReport healthy = check();
        assertThat(line(healthy, "the viz pod serves the dashboard")).startsWith("√");
        assertThat(line(healthy, "viz's ClusterRole grants what the dashboard needs")).startsWith("√");

        var role = client.rbac().clusterRoles().withName("trellis-trellis-viz").get();
        role.setRules(role.getRules().stream().filter(r -> !r.getResources().contains("tokenreviews")).toList());
        client.rbac().clusterRoles().resource(role).update();
        var viz = client.apps().deployments().inNamespace("trellis").withName("trellis-viz").get();
        viz.getSpec().getTemplate().getSpec().getContainers().stream().filter(c -> c.getName().equals("viz")).forEach(c -> {
            List<String> args = new java.util.ArrayList<>(c.getArgs());
            int at = args.indexOf("--dashboard");
            args.remove(at + 1);
            args.remove(at);
            c.setArgs(args);
        });
        client.apps().deployments().inNamespace("trellis").resource(viz).update();
        CheckReport report = check();
        assertError(report, "viz's ClusterRole grants what the dashboard needs", "create authentication.k8s.io/tokenreviews");
        assertThat(line(report, "the viz pod serves the dashboard")).startsWith("‼");
    }

    @Test
    void aMeshedPodThatDeclaresNoPortWarns() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        String version = dev.trellis.core.version.TrellisVersion.current();
        var portless = meshedPod("api-0", true, version);
        portless.getSpec().getContainers().getFirst().setPorts(List.of());
        portless.getMetadata().setLabels(new java.util.HashMap<>(Map.of("trellis.dev/control-plane-ns", "trellis", "app", "api")));
        client.resource(portless).create();
        CheckReport report = ClusterCheck.run(client, CheckOptions.defaults().withProxies(true), CLOCK);
        assertThat(line(report, "every meshed pod declares the ports it serves")).startsWith("‼");
        assertThat(report.text()).contains("no container port and no Service selecting them: shop/api-0").contains("undeclared_port");
        // A Service that selects it says where it serves: its proxy forwards there.
        client.resource(new io.fabric8.kubernetes.api.model.ServiceBuilder().withNewMetadata().withName("api").withNamespace("shop").endMetadata()
                .withNewSpec().addToSelector("app", "api").addNewPort().withPort(80).withNewTargetPort(8080).endPort().endSpec().build()).create();
        CheckReport served = ClusterCheck.run(client, CheckOptions.defaults().withProxies(true), CLOCK);
        assertThat(line(served, "every meshed pod declares the ports it serves")).startsWith("√");
    }

    private static io.fabric8.kubernetes.api.model.Pod withProxyMemoryLimit(io.fabric8.kubernetes.api.model.Pod pod, String limit) {
        pod.getSpec().getInitContainers().getFirst().setResources(new io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder()
                .addToLimits("memory", new io.fabric8.kubernetes.api.model.Quantity(limit)).build());
        return pod;
    }

    private static io.fabric8.kubernetes.api.model.Pod meshedPod(String name, boolean proxyReady, String version) {
        return new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName(name).withNamespace("shop")
                    .addToLabels("trellis.dev/control-plane-ns", "trellis").addToAnnotations("trellis.dev/proxy-version", version).endMetadata()
                .withNewSpec().addNewInitContainer().withName("trellis-proxy").withImage("proxy").withRestartPolicy("Always").endInitContainer()
                    .addNewContainer().withName("web").withImage("web").addNewPort().withContainerPort(8080).endPort().endContainer().endSpec()
                .withNewStatus().withPhase("Running").addNewInitContainerStatus().withName("trellis-proxy").withReady(proxyReady).endInitContainerStatus()
                .endStatus().build();
    }

    @Test
    void nodeModePodsNeedAReadyAgentAndNodeProxyOnTheirNode() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365)));
        assertThat(check().categories()).extracting(CheckReport.Category::name).doesNotContain("node-mode");
        client.resource(nodeModePod("shop", "web-0", "node-a")).create();
        assertError(check(), "a node proxy runs ready on every node", "trellis install --node-mode");

        for (String name : List.of("trellis-node-agent", "trellis-node-proxy")) {
            client.resource(new io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder().withNewMetadata().withName(name).withNamespace("trellis").endMetadata()
                    .withNewSpec().endSpec().withNewStatus().withDesiredNumberScheduled(2).withNumberReady(2).endStatus().build()).create();
        }
        client.resource(nodePod(true, "node-a")).create();
        client.resource(nodePod(false, "node-a")).create();
        CheckReport report = check();
        assertThat(report.worst()).as(report.text()).isEqualTo(Outcome.OK);
        assertThat(report.text()).contains("√ every node-mode pod's node runs a ready node agent and node proxy (1 pods)");

        // A pod on a node whose node proxy is not there: named, with its node.
        client.resource(nodeModePod("shop", "web-1", "node-b")).create();
        assertError(check(), "every node-mode pod's node runs a ready node agent and node proxy", "node-b=[shop/web-1]");
        client.apps().daemonSets().inNamespace("trellis").withName("trellis-node-proxy").editStatus(d -> {
            d.getStatus().setNumberReady(1);
            return d;
        });
        assertError(check(), "a node proxy runs ready on every node", "1 of 2 ready");
    }

    private static io.fabric8.kubernetes.api.model.Pod nodeModePod(String namespace, String name, String node) {
        return new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName(name).withNamespace(namespace)
                    .addToAnnotations("config.trellis.dev/proxy-mode", "node").endMetadata()
                .withNewSpec().withNodeName(node).addNewInitContainer().withName("trellis-init").withImage("proxy").endInitContainer()
                    .addNewContainer().withName("web").withImage("web").endContainer().endSpec()
                .withNewStatus().withPhase("Running").endStatus().build();
    }

    private static io.fabric8.kubernetes.api.model.Pod nodePod(boolean agent, String node) {
        return new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName((agent ? "agent-" : "proxy-") + node).withNamespace("trellis")
                    .withLabels(ControlPlane.nodePodSelector(agent)).endMetadata()
                .withNewSpec().withNodeName(node).addNewContainer().withName("c").withImage("controller").endContainer().endSpec()
                .withNewStatus().withPhase("Running").addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus().build();
    }

    @Test
    void anExpiredIssuerIsAnError() {
        // An issuer of 100 days made 101 days ago.
        install(pki(Duration.ofDays(3650), Duration.ofDays(100), NOW.minus(Duration.ofDays(101))));
        CheckReport report = check();
        assertError(report, "issuer certificate is within its validity period", "expired at");
        assertThat(line(report, "issuer certificate is issued by a trust anchor")).startsWith("√");
    }

    @Test
    void trustAnchorsNearTheirEndWarnWithoutFailing() {
        for (Duration left : List.of(Duration.ofDays(30), Duration.ofDays(1))) {
            client.namespaces().withName("trellis").delete();
            install(pki(left, left, NOW));
            CheckReport report = check();
            assertThat(report.worst()).as(report.text()).isEqualTo(Outcome.WARNING);
            assertThat(report.failed()).isFalse();
            assertThat(line(report, "trust anchors are within their validity period")).startsWith("‼");
            assertThat(report.text()).contains(left.toDays() >= 2 ? ", in " + left.toDays() + " days" : ", in 24 hours");
        }
    }

    @Test
    void certificateValidityIsJudgedExactly() {
        CaCredentials anchor = CaCertificates.newTrustAnchor("cluster.local", Duration.ofDays(61), NOW);
        Duration warning = Duration.ofDays(60);
        assertThat(IdentityChecks.validity("v", List.of(anchor.certificate()), NOW, warning).outcome()).isEqualTo(Outcome.OK);
        assertThat(IdentityChecks.validity("v", List.of(anchor.certificate()), NOW.plus(Duration.ofDays(1)).plusSeconds(1), warning).outcome()).isEqualTo(Outcome.WARNING);
        assertThat(IdentityChecks.validity("v", List.of(anchor.certificate()), NOW.plus(Duration.ofDays(61)), warning).outcome()).isEqualTo(Outcome.ERROR);
        assertThat(IdentityChecks.validity("v", List.of(anchor.certificate()), NOW.minus(Duration.ofDays(1)), warning))
                .satisfies(r -> {
                    assertThat(r.outcome()).isEqualTo(Outcome.ERROR);
                    assertThat(r.detail().orElseThrow()).contains("is not valid before");
                });
    }

    @Test
    void anExpiredTrustAnchorIsAnError() {
        install(pki(Duration.ofDays(10), Duration.ofDays(5), NOW.minus(Duration.ofDays(11))));
        assertError(check(), "trust anchors are within their validity period", "expired at");
    }

    @Test
    void aTrustAnchorNotYetValidIsAnError() {
        install(pki(Duration.ofDays(3650), Duration.ofDays(365), NOW.plus(Duration.ofDays(1))));
        assertError(check(), "trust anchors are within their validity period", "is not valid before");
    }

    @Test
    void anOldApiServerIsAnError() {
        server.setVersionInfo(new VersionInfo.Builder().withMajor("1").withMinor("24+").withGitVersion("v1.24.17-eks").build());
        assertError(check(), "is running the minimum Kubernetes API version (1.27)", "v1.24.17-eks");
    }

    @Test
    void aMissingNamespaceStopsTheControlPlaneChecksWithOneError() {
        CheckReport report = check();
        assertError(report, "control plane namespace exists", "no namespace trellis");
        assertThat(report.json()).contains("\"success\" : false").contains("\"result\" : \"error\"");
    }

    private CheckReport check() {
        return ClusterCheck.run(client, CheckOptions.defaults(), CLOCK);
    }

    private static String line(CheckReport report, String description) {
        return report.text().lines().filter(l -> l.length() > 2 && l.substring(2).startsWith(description)).findFirst().orElseThrow(() -> new AssertionError(report.text()));
    }

    private static void assertError(CheckReport report, String description, String detail) {
        assertThat(report.failed()).as(report.text()).isTrue();
        assertThat(report.categories().stream().flatMap(c -> c.results().stream())
                .filter(r -> r.description().equals(description)).findFirst())
                .as(report.text())
                .hasValueSatisfying(r -> {
                    assertThat(r.outcome()).isEqualTo(Outcome.ERROR);
                    assertThat(r.detail().orElseThrow()).contains(detail);
                    assertThat(r.hint().orElseThrow()).startsWith("docs/install.md#check-");
                });
    }

    private static IdentityMaterial pki(Duration anchorLifetime, Duration issuerLifetime) {
        return pki(anchorLifetime, issuerLifetime, NOW);
    }

    /** Anchor and issuer made at {@code madeAt}, living as long as given. */
    private static IdentityMaterial pki(Duration anchorLifetime, Duration issuerLifetime, Instant madeAt) {
        CaCredentials anchor = CaCertificates.newTrustAnchor("cluster.local", anchorLifetime, madeAt);
        CaCredentials issuer = CaCertificates.newIssuer(anchor, "cluster.local", issuerLifetime, madeAt);
        return new IdentityMaterial(Pem.encodeCertificates(List.of(anchor.certificate())),
                Optional.of(new IdentityMaterial.Issuer(Pem.encodeCertificates(issuer.chain()), Pem.encodePrivateKey(issuer.key()))));
    }

    /** Applies the CRDs and the rendered control plane, with every Deployment available. */
    private void install(IdentityMaterial material) {
        install(material, InstallOptions.WebhookTls.generate("trellis", "cluster.local", NOW));
    }

    private void install(IdentityMaterial material, InstallOptions.WebhookTls webhook) {
        for (HasMetadata crd : ControlPlane.crds()) {
            if (client.resource(crd).get() == null) {
                client.resource(crd).create();
            }
        }
        for (HasMetadata object : ControlPlane.objects(InstallOptions.builder(material).webhook(Optional.of(webhook)).build(), new SecureRandom())) {
            if (object instanceof Deployment deployment) {
                deployment.setStatus(new DeploymentStatusBuilder().withReplicas(deployment.getSpec().getReplicas())
                        .withAvailableReplicas(deployment.getSpec().getReplicas()).build());
            }
            client.resource(object).createOr(existing -> existing.update());
        }
    }
}
