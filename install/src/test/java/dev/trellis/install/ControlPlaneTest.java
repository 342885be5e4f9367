package dev.trellis.install;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.cluster.kubernetes.WatchedResource;
import dev.trellis.cluster.manifest.ManifestStream;
import dev.trellis.testing.TestPki;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@EnableKubernetesMockClient(crud = true)
class ControlPlaneTest {

    KubernetesClient client;

    @TempDir
    Path dir;

    private TestPki pki;

    @org.junit.jupiter.api.BeforeEach
    void pki() {
        pki = TestPki.create(dir.resolve("pki"));
    }

    @Test
    void everyDocumentParsesIntoTheTypedModelWithNoUnknownField() throws Exception {
        String stream = ManifestStream.yaml(rendered(false)) + ManifestStream.yaml(ControlPlane.crds());
        List<HasMetadata> parsed = Manifests.parseStrictly(stream);
        assertThat(parsed).hasSize(rendered(false).size() + 7);
        assertThat(parsed).noneMatch(o -> o instanceof GenericKubernetesResource);
    }

    @Test
    void aFieldTheModelDoesNotKnowIsCaught() {
        assertThatThrownBy(() -> Manifests.parseStrictly("""
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: x, namespace: trellis}
                data: {a: b}
                dataa: {c: d}
                """)).hasMessageContaining("ConfigMap trellis/x").hasMessageContaining("dataa");
    }

    @Test
    void theWholeStreamAppliesToAnApiServer() throws Exception {
        for (HasMetadata object : Manifests.parseStrictly(ManifestStream.yaml(ControlPlane.crds()))) {
            client.resource(object).create();
        }
        for (HasMetadata object : Manifests.parseStrictly(ManifestStream.yaml(rendered(true)))) {
            client.resource(object).create();
        }
        assertThat(client.apps().deployments().inNamespace("trellis").list().getItems()).extracting(d -> d.getMetadata().getName())
                .containsExactlyInAnyOrder("trellis-identity", "trellis-destination", "trellis-viz");
        assertThat(client.rbac().clusterRoles().withName("trellis-trellis-identity").get()).isNotNull();
        assertThat(client.configMaps().inNamespace("trellis").withName("trellis-identity-trust-anchors").get().getData()).containsKey("ca-bundle.crt");
        assertThat(client.apiextensions().v1().customResourceDefinitions().list().getItems()).hasSize(7);
    }

    @Test
    void everyPodIsHardenedAndProbedOnItsProbeListenerOnly() throws Exception {
        for (Deployment deployment : of(rendered(false), Deployment.class)) {
            PodSpec pod = deployment.getSpec().getTemplate().getSpec();
            String name = deployment.getMetadata().getName();
            assertThat(pod.getSecurityContext().getRunAsNonRoot()).as(name).isTrue();
            assertThat(pod.getSecurityContext().getRunAsUser()).as(name).isEqualTo(2103L);
            assertThat(pod.getSecurityContext().getSeccompProfile().getType()).as(name).isEqualTo("RuntimeDefault");
            assertThat(pod.getHostNetwork()).as(name).isNull();
            assertThat(deployment.getSpec().getTemplate().getMetadata().getLabels()).containsEntry("trellis.dev/inject", "disabled");
            for (Container container : pod.getContainers()) {
                var security = container.getSecurityContext();
                if (container.getName().equals("prometheus")) {
                    // Upstream, beside viz: hardened and limited the same, on the pod's loopback only (no probe, no admin listener).
                    assertThat(security.getReadOnlyRootFilesystem()).isTrue();
                    assertThat(security.getRunAsNonRoot()).isTrue();
                    assertThat(security.getAllowPrivilegeEscalation()).isFalse();
                    assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
                    assertThat(container.getResources().getLimits()).containsKeys("cpu", "memory");
                    assertThat(container.getPorts()).isNullOrEmpty();
                    assertThat(container.getArgs()).contains("--web.listen-address=127.0.0.1:9090");
                    continue;
                }
                assertThat(security.getRunAsNonRoot()).as(name).isTrue();
                assertThat(security.getRunAsUser()).as(name).isNotZero();
                assertThat(security.getReadOnlyRootFilesystem()).as(name).isTrue();
                assertThat(security.getAllowPrivilegeEscalation()).as(name).isFalse();
                assertThat(security.getPrivileged()).as(name).isNull();
                assertThat(security.getCapabilities().getDrop()).as(name).containsExactly("ALL");
                assertThat(security.getCapabilities().getAdd()).as(name).isNullOrEmpty();
                assertThat(security.getSeccompProfile().getType()).as(name).isEqualTo("RuntimeDefault");
                Map<String, Quantity> requests = container.getResources().getRequests();
                Map<String, Quantity> limits = container.getResources().getLimits();
                assertThat(requests).as(name).containsKeys("cpu", "memory");
                assertThat(limits).as(name).containsKeys("cpu", "memory");
                assertThat(container.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/ready");
                assertThat(container.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/live");
                assertThat(container.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("probe");
                // The admin listener (metrics, debug) stays on loopback; only the probe listener faces the pod network.
                List<String> args = container.getArgs();
                assertThat(args.get(args.indexOf("--admin") + 1)).as(name).startsWith("127.0.0.1:");
                int probe = Integer.parseInt(args.get(args.indexOf("--probe") + 1).replace("0.0.0.0:", ""));
                assertThat(container.getPorts()).anySatisfy(p -> {
                    assertThat(p.getName()).isEqualTo("probe");
                    assertThat(p.getContainerPort()).isEqualTo(probe);
                });
                assertThat(args).doesNotContain("--debug");
            }
        }
    }

    @Test
    void rbacGrantsEachComponentOnlyWhatItUses() throws Exception {
        Map<String, List<PolicyRule>> rules = of(rendered(false), ClusterRole.class).stream()
                .collect(Collectors.toMap(r -> r.getMetadata().getName(), ClusterRole::getRules));
        assertThat(rules).containsOnlyKeys("trellis-trellis-identity", "trellis-trellis-destination", "trellis-trellis-viz");
        assertThat(rules.get("trellis-trellis-identity")).singleElement().satisfies(rule -> {
            assertThat(rule.getApiGroups()).containsExactly("authentication.k8s.io");
            assertThat(rule.getResources()).containsExactly("tokenreviews");
            assertThat(rule.getVerbs()).containsExactly("create");
        });
        List<PolicyRule> vizReads = rules.get("trellis-trellis-viz").stream().filter(r -> !r.getVerbs().equals(List.of("create"))).toList();
        assertThat(vizReads).allSatisfy(rule -> assertThat(rule.getVerbs()).containsExactly("get", "list", "watch"));
        assertThat(rules.get("trellis-trellis-viz").stream().filter(r -> r.getVerbs().equals(List.of("create"))).flatMap(r -> r.getResources().stream()))
                .as("the dashboard's logins: who a token is, what its user may see").containsExactlyInAnyOrder("tokenreviews", "subjectaccessreviews");
        assertThat(vizReads.stream().flatMap(r -> r.getResources().stream()).toList())
                .as("pods, Services and policy: what the dashboard reads, nothing more")
                .containsExactlyInAnyOrderElementsOf(WatchedResource.VIZ.stream().flatMap(r -> r.resources().stream()).toList())
                .contains("pods", "services", "servers", "authorizationpolicies");
        List<String> destinationResources = rules.get("trellis-trellis-destination").stream().filter(r -> !r.getVerbs().equals(List.of("update")))
                .flatMap(r -> r.getResources().stream()).toList();
        assertThat(destinationResources).containsExactlyInAnyOrderElementsOf(
                WatchedResource.ALL.stream().flatMap(r -> r.resources().stream()).toList());
        assertThat(rules.get("trellis-trellis-destination").stream().filter(r -> r.getVerbs().contains("update")))
                .as("the destination service's one write: route status, nothing else").singleElement().satisfies(rule -> {
                    assertThat(rule.getApiGroups()).containsExactly("gateway.networking.k8s.io");
                    assertThat(rule.getResources()).containsExactly("httproutes/status", "grpcroutes/status", "tcproutes/status");
                    assertThat(rule.getVerbs()).containsExactly("update");
                });
        for (List<PolicyRule> ruleList : rules.values()) {
            for (PolicyRule rule : ruleList) {
                if (rule.getResources().stream().allMatch(r -> r.endsWith("routes/status"))) {
                    continue;
                }
                assertThat(rule.getVerbs()).doesNotContain("*", "update", "patch", "delete");
                assertThat(rule.getResources()).doesNotContain("*", "secrets");
            }
        }
    }

    @Test
    void networkPoliciesDenyByDefaultAndAdmitOnlyServedPorts() throws Exception {
        Map<String, NetworkPolicy> policies = of(rendered(false), NetworkPolicy.class).stream()
                .collect(Collectors.toMap(p -> p.getMetadata().getName(), p -> p));
        NetworkPolicy deny = policies.get("trellis-default-deny");
        assertThat(deny.getSpec().getPodSelector().getMatchLabels()).isNullOrEmpty();
        assertThat(deny.getSpec().getIngress()).isNullOrEmpty();
        assertThat(ports(policies.get("trellis-identity"))).containsExactly(8080, 9991);
        assertThat(ports(policies.get("trellis-destination"))).containsExactly(8086, 9997);
        assertThat(ports(policies.get("trellis-viz"))).containsExactly(9995);
    }

    @Test
    void haDiffersFromTheDefaultExactlyByReplicasAntiAffinityAndDisruptionBudgets() throws Exception {
        List<HasMetadata> single = withInjector(false);
        List<HasMetadata> ha = withInjector(true);
        List<PodDisruptionBudget> budgets = of(ha, PodDisruptionBudget.class);
        assertThat(budgets).extracting(b -> b.getMetadata().getName()).containsExactlyInAnyOrder("trellis-identity", "trellis-destination", "trellis-injector");
        assertThat(budgets).allSatisfy(b -> assertThat(b.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1));
        List<HasMetadata> haWithoutNewBudgets = ha.stream()
                .filter(o -> !(o instanceof PodDisruptionBudget) || o.getMetadata().getName().equals("trellis-injector")).toList();
        assertThat(haWithoutNewBudgets).hasSameSizeAs(single);
        KubernetesSerialization serialization = new KubernetesSerialization();
        for (int i = 0; i < single.size(); i++) {
            HasMetadata expected = single.get(i);
            HasMetadata actual = serialization.clone(haWithoutNewBudgets.get(i));
            if (actual instanceof Deployment deployment && List.of("trellis-identity", "trellis-destination", "trellis-injector")
                    .contains(deployment.getMetadata().getName())) {
                assertThat(deployment.getSpec().getReplicas()).isEqualTo(3);
                assertThat(deployment.getSpec().getTemplate().getSpec().getAffinity().getPodAntiAffinity()
                        .getRequiredDuringSchedulingIgnoredDuringExecution()).singleElement()
                        .satisfies(term -> assertThat(term.getTopologyKey()).isEqualTo("kubernetes.io/hostname"));
                Deployment defaults = (Deployment) expected;
                deployment.getSpec().setReplicas(defaults.getSpec().getReplicas());
                deployment.getSpec().getTemplate().getSpec().setAffinity(defaults.getSpec().getTemplate().getSpec().getAffinity());
            }
            assertThat(serialization.asJson(actual)).as(expected.getKind() + " " + expected.getMetadata().getName()).isEqualTo(serialization.asJson(expected));
        }
    }

    @Test
    void theInjectorNeverRunsAloneAndIsProtectedFromDrains() throws Exception {
        for (boolean ha : new boolean[] {false, true}) {
            List<HasMetadata> objects = withInjector(ha);
            Deployment injector = of(objects, Deployment.class).stream().filter(d -> d.getMetadata().getName().equals("trellis-injector")).findFirst().orElseThrow();
            var affinity = injector.getSpec().getTemplate().getSpec().getAffinity().getPodAntiAffinity();
            if (ha) {
                assertThat(injector.getSpec().getReplicas()).isEqualTo(3);
                assertThat(affinity.getRequiredDuringSchedulingIgnoredDuringExecution()).singleElement()
                        .satisfies(term -> assertThat(term.getTopologyKey()).isEqualTo("kubernetes.io/hostname"));
            } else {
                assertThat(injector.getSpec().getReplicas()).isEqualTo(2);
                // Spread where the scheduler can, without making a one-node cluster unschedulable.
                assertThat(affinity.getRequiredDuringSchedulingIgnoredDuringExecution()).isNullOrEmpty();
                assertThat(affinity.getPreferredDuringSchedulingIgnoredDuringExecution()).singleElement()
                        .satisfies(term -> assertThat(term.getPodAffinityTerm().getTopologyKey()).isEqualTo("kubernetes.io/hostname"));
            }
            assertThat(of(objects, PodDisruptionBudget.class)).filteredOn(b -> b.getMetadata().getName().equals("trellis-injector")).singleElement()
                    .satisfies(b -> assertThat(b.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1));
            // Sized from measurements, not from the limit: the image's sizing peaked above the 256Mi limit (docs/benchmarks.md).
            var container = injector.getSpec().getTemplate().getSpec().getContainers().getFirst();
            assertThat(container.getResources().getLimits().get("memory").toString()).isEqualTo("256Mi");
            assertThat(container.getEnv()).filteredOn(e -> e.getName().equals("JAVA_TOOL_OPTIONS")).singleElement()
                    .satisfies(e -> assertThat(e.getValue()).contains("-Xmx64m").contains("-XX:TieredStopAtLevel=1"));
        }
    }

    @Test
    void theWebhooksAreSentOnlyPodsThatOptedInByLabel() throws Exception {
        var configuration = of(withInjector(false), io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration.class).getFirst();
        assertThat(configuration.getWebhooks()).extracting(w -> w.getName())
                .containsExactly("namespaces.injector.trellis.dev", "pods.injector.trellis.dev");
        for (var webhook : configuration.getWebhooks()) {
            assertThat(webhook.getFailurePolicy()).isEqualTo("Fail");
            assertThat(webhook.getTimeoutSeconds()).isEqualTo(10);
            assertThat(webhook.getNamespaceSelector().getMatchExpressions()).anySatisfy(r -> {
                assertThat(r.getKey()).isEqualTo("kubernetes.io/metadata.name");
                assertThat(r.getOperator()).isEqualTo("NotIn");
                assertThat(r.getValues()).containsExactly("trellis", "kube-system");
            });
        }
        var namespaces = configuration.getWebhooks().get(0);
        assertThat(namespaces.getNamespaceSelector().getMatchExpressions()).anySatisfy(r -> assertThat(List.of(r.getKey(), r.getOperator(), r.getValues()))
                .isEqualTo(List.of("trellis.dev/inject", "In", List.of("enabled"))));
        assertThat(namespaces.getObjectSelector().getMatchExpressions()).singleElement().satisfies(r -> assertThat(List.of(r.getKey(), r.getOperator(), r.getValues()))
                .isEqualTo(List.of("trellis.dev/inject", "NotIn", List.of("disabled"))));
        var pods = configuration.getWebhooks().get(1);
        assertThat(pods.getNamespaceSelector().getMatchExpressions()).anySatisfy(r -> assertThat(List.of(r.getKey(), r.getOperator(), r.getValues()))
                .isEqualTo(List.of("trellis.dev/inject", "NotIn", List.of("enabled"))));
        assertThat(pods.getObjectSelector().getMatchExpressions()).singleElement().satisfies(r -> assertThat(List.of(r.getKey(), r.getOperator(), r.getValues()))
                .isEqualTo(List.of("trellis.dev/inject", "In", List.of("enabled"))));
        ClusterRole role = of(withInjector(false), ClusterRole.class).stream().filter(r -> r.getMetadata().getName().equals("trellis-trellis-injector"))
                .findFirst().orElseThrow();
        assertThat(role.getRules()).singleElement().satisfies(rule -> {
            assertThat(rule.getResources()).containsExactly("namespaces");
            assertThat(rule.getVerbs()).containsExactly("get", "list", "watch");
        });
    }

    @Test
    void anExternalIssuerWritesNoIssuerSecretButTheIdentityServiceStillReadsIt() throws Exception {
        InstallOptions.IdentityMaterial external = IdentityFiles.read(pki.trustAnchorFile(), Optional.empty(), Instant.now());
        List<HasMetadata> objects = ControlPlane.objects(InstallOptions.builder(external).build(), Manifests.seeded());
        assertThat(of(objects, Secret.class)).extracting(s -> s.getMetadata().getName()).containsExactly("trellis-viz-api-token", "trellis-viz-bridge-token");
        Deployment identity = of(objects, Deployment.class).stream().filter(d -> d.getMetadata().getName().equals("trellis-identity")).findFirst().orElseThrow();
        assertThat(identity.getSpec().getTemplate().getSpec().getVolumes()).filteredOn(v -> v.getSecret() != null)
                .extracting(v -> v.getSecret().getSecretName()).containsExactly("trellis-identity-issuer");
    }

    @Test
    void anIssuerThatDoesNotChainToTheAnchorsOrHasExpiredIsRefused() throws Exception {
        TestPki other = TestPki.create(dir.resolve("b"));
        assertThatThrownBy(() -> IdentityFiles.read(pki.trustAnchorFile(),
                Optional.of(new IdentityFiles.IssuerFiles(other.issuerCertificateFile(), other.issuerKeyFile())), Instant.now()))
                .hasMessageContaining(other.issuerCertificateFile().toString())
                .hasMessageContaining("does not chain to the trust anchors");
        assertThatThrownBy(() -> IdentityFiles.read(pki.trustAnchorFile(),
                Optional.of(new IdentityFiles.IssuerFiles(pki.issuerCertificateFile(), pki.issuerKeyFile())), Instant.now().plus(Duration.ofDays(4000))))
                .hasMessageContaining("does not chain");
        assertThatThrownBy(() -> IdentityFiles.read(pki.trustAnchorFile(),
                Optional.of(new IdentityFiles.IssuerFiles(pki.issuerCertificateFile(), other.issuerKeyFile())), Instant.now()))
                .hasMessageContaining("does not belong");
    }

    @Test
    void uninstallDeletesTheWebhookFirstAndTheNamespaceLast() throws Exception {
        List<HasMetadata> deletion = ControlPlane.forDeletion(rendered(true));
        assertThat(deletion).hasSameSizeAs(rendered(true));
        assertThat(deletion.getLast().getKind()).isEqualTo("Namespace");
        int lastDeployment = 0;
        int firstOther = Integer.MAX_VALUE;
        for (int i = 0; i < deletion.size(); i++) {
            if (deletion.get(i).getKind().equals("Deployment")) {
                lastDeployment = i;
            } else if (!deletion.get(i).getKind().endsWith("WebhookConfiguration")) {
                firstOther = Math.min(firstOther, i);
            }
        }
        assertThat(lastDeployment).isLessThan(firstOther);
        assertThat(ManifestStream.yaml(deletion)).doesNotContain("BEGIN").doesNotContain("spec:");
    }

    @Test
    void nodeModeAddsTwoDaemonSetsWhoseOnlyPrivilegesAreTheAgentsTwoNamedCapabilities() throws Exception {
        InstallOptions.IdentityMaterial material = IdentityFiles.read(pki.trustAnchorFile(),
                Optional.of(new IdentityFiles.IssuerFiles(pki.issuerCertificateFile(), pki.issuerKeyFile())), Instant.now());
        List<HasMetadata> objects = ControlPlane.objects(InstallOptions.builder(material).nodeMode(true).build(), Manifests.seeded());
        assertThat(of(rendered(false), io.fabric8.kubernetes.api.model.apps.DaemonSet.class)).as("not without --node-mode").isEmpty();
        Map<String, io.fabric8.kubernetes.api.model.apps.DaemonSet> sets = of(objects, io.fabric8.kubernetes.api.model.apps.DaemonSet.class).stream()
                .collect(Collectors.toMap(d -> d.getMetadata().getName(), d -> d));
        assertThat(sets).containsOnlyKeys("trellis-node-agent", "trellis-node-proxy");

        PodSpec agent = sets.get("trellis-node-agent").getSpec().getTemplate().getSpec();
        Container agentContainer = agent.getContainers().getFirst();
        assertThat(agentContainer.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(agentContainer.getSecurityContext().getCapabilities().getAdd()).containsExactlyInAnyOrder("SYS_ADMIN", "NET_ADMIN");
        assertThat(agentContainer.getSecurityContext().getPrivileged()).isNull();
        assertThat(agentContainer.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(agentContainer.getArgs()).containsSequence("node", "agent").contains("--node", "$(NODE_NAME)", "--proxy-uid", "2103");
        assertThat(agent.getHostNetwork()).isNull();
        assertThat(agent.getHostPID()).isNull();
        assertThat(agent.getVolumes()).filteredOn(v -> v.getHostPath() != null).extracting(v -> v.getHostPath().getPath())
                .containsExactlyInAnyOrder("/var/run/netns", "/var/run/trellis/node");
        assertThat(agentContainer.getVolumeMounts()).filteredOn(m -> m.getMountPath().equals("/var/run/netns")).singleElement()
                .satisfies(m -> assertThat(m.getReadOnly()).isTrue());

        PodSpec proxy = sets.get("trellis-node-proxy").getSpec().getTemplate().getSpec();
        Container proxyContainer = proxy.getContainers().getFirst();
        assertThat(proxy.getAutomountServiceAccountToken()).as("no API token").isFalse();
        assertThat(proxyContainer.getSecurityContext().getRunAsUser()).isEqualTo(2103L);
        assertThat(proxyContainer.getSecurityContext().getCapabilities().getAdd()).isNullOrEmpty();
        assertThat(proxyContainer.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
        assertThat(proxyContainer.getArgs()).containsSequence("node", "proxy").contains("spiffe://cluster.local/ns/trellis/sa/trellis-node-proxy");
        assertThat(proxyContainer.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("probe");

        Map<String, List<PolicyRule>> rules = of(objects, ClusterRole.class).stream().collect(Collectors.toMap(r -> r.getMetadata().getName(), ClusterRole::getRules));
        assertThat(rules).doesNotContainKey("trellis-trellis-node-proxy");
        assertThat(rules.get("trellis-trellis-node-agent")).singleElement().satisfies(rule -> {
            assertThat(rule.getResources()).containsExactlyInAnyOrder("pods", "namespaces");
            assertThat(rule.getVerbs()).containsExactlyInAnyOrder("get", "list", "watch");
        });
        // The identity service checks node proxies' requests against pods: it may read them, and it is told to.
        assertThat(rules.get("trellis-trellis-identity")).anySatisfy(rule -> assertThat(rule.getResources()).containsExactly("pods"));
        assertThat(of(objects, Deployment.class).stream().filter(d -> d.getMetadata().getName().equals("trellis-identity")).findFirst().orElseThrow()
                .getSpec().getTemplate().getSpec().getContainers().getFirst().getArgs()).contains("--node-proxies");

        Map<String, NetworkPolicy> policies = of(objects, NetworkPolicy.class).stream().collect(Collectors.toMap(p -> p.getMetadata().getName(), p -> p));
        assertThat(policies.get("trellis-node-agent").getSpec().getIngress()).as("the agent admits nothing").isEmpty();
        assertThat(ports(policies.get("trellis-node-proxy"))).containsExactly(4192);
        // It all parses into the typed model and applies.
        for (HasMetadata object : Manifests.parseStrictly(ManifestStream.yaml(objects))) {
            assertThat(object).isNotInstanceOf(GenericKubernetesResource.class);
        }
    }

    /** One webhook PKI for every rendering, so that two renderings differ only by what their options change. */
    private static final InstallOptions.WebhookTls WEBHOOK_TLS = InstallOptions.WebhookTls.generate("trellis", "cluster.local", Instant.now());

    private List<HasMetadata> rendered(boolean ha) throws Exception {
        InstallOptions.IdentityMaterial material = IdentityFiles.read(pki.trustAnchorFile(),
                Optional.of(new IdentityFiles.IssuerFiles(pki.issuerCertificateFile(), pki.issuerKeyFile())), Instant.now());
        return ControlPlane.objects(InstallOptions.builder(material).ha(ha).build(), Manifests.seeded());
    }

    private List<HasMetadata> withInjector(boolean ha) throws Exception {
        InstallOptions.IdentityMaterial material = IdentityFiles.read(pki.trustAnchorFile(),
                Optional.of(new IdentityFiles.IssuerFiles(pki.issuerCertificateFile(), pki.issuerKeyFile())), Instant.now());
        return ControlPlane.objects(InstallOptions.builder(material).ha(ha).webhook(Optional.of(WEBHOOK_TLS)).build(), Manifests.seeded());
    }

    private static <T> List<T> of(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static List<Integer> ports(NetworkPolicy policy) {
        return policy.getSpec().getIngress().stream().flatMap(i -> i.getPorts().stream()).map(p -> p.getPort().getIntVal()).toList();
    }
}
