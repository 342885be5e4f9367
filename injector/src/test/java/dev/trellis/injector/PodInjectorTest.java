package dev.trellis.injector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PodInjectorTest {

    static final String ANCHORS = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    private final PodInjector injector = new PodInjector(InjectorConfig.builder(ANCHORS).build());
    private final PodInjector legacy = new PodInjector(InjectorConfig.builder(ANCHORS).nativeSidecar(false).build());

    static Pod app(Map<String, String> annotations) {
        return new PodBuilder().withNewMetadata().withGenerateName("web-").withNamespace("emojivoto").withAnnotations(annotations).endMetadata()
                .withNewSpec().withServiceAccountName("web")
                    .addNewInitContainer().withName("migrate").withImage("app:1").endInitContainer()
                    .addNewContainer().withName("app").withImage("app:1").addNewPort().withContainerPort(8080).endPort().endContainer()
                .endSpec().build();
    }

    private Pod injected(PodInjector with, Map<String, String> annotations) throws Exception {
        return injected(with, Map.of(), annotations);
    }

    /** Injected with {@code namespaceAnnotations} on its namespace and {@code podAnnotations} on the pod. */
    private Pod injected(PodInjector with, Map<String, String> namespaceAnnotations, Map<String, String> podAnnotations) throws Exception {
        return switch (with.inject(app(podAnnotations), ns("emojivoto", namespaceAnnotations), false)) {
            case PodInjector.Decision.Injected injected -> injected.pod();
            case PodInjector.Decision.Skipped skipped -> throw new AssertionError("skipped: " + skipped.detail());
        };
    }

    @Test
    void aNativeSidecarFollowsProxyInitAndPrecedesTheAppsInitContainers() throws Exception {
        Pod pod = injected(injector, Map.of(Annotations.INJECT, "enabled"));
        assertThat(pod.getSpec().getInitContainers()).extracting(Container::getName).containsExactly("trellis-init", "trellis-proxy", "migrate");
        Container proxy = pod.getSpec().getInitContainers().get(1);
        assertThat(proxy.getRestartPolicy()).isEqualTo("Always");
        assertThat(proxy.getStartupProbe().getHttpGet().getPath()).isEqualTo("/ready");
        assertThat(proxy.getStartupProbe().getHttpGet().getPort().getIntVal()).isEqualTo(4192);
        assertThat(pod.getSpec().getContainers()).extracting(Container::getName).containsExactly("app");
        assertThat(pod.getMetadata().getAnnotations()).containsEntry(Annotations.PROXY_VERSION, InjectorConfig.builder(ANCHORS).build().version());
        assertThat(pod.getMetadata().getLabels()).containsEntry(PodInjector.LABEL_CONTROL_PLANE_NS, "trellis");
    }

    @Test
    void aNodeModePodGetsProxyInitAndNoSidecarOrToken() throws Exception {
        for (Pod pod : List.of(injected(injector, Map.of(Annotations.INJECT, "enabled", "config.trellis.dev/proxy-mode", "node")),
                injected(injector, Map.of("config.trellis.dev/proxy-mode", "node"), Map.of(Annotations.INJECT, "enabled")))) {
            assertThat(pod.getSpec().getInitContainers()).extracting(Container::getName).containsExactly("migrate", "trellis-init");
            assertThat(pod.getSpec().getContainers()).extracting(Container::getName).containsExactly("app");
            assertThat(pod.getSpec().getVolumes()).extracting(v -> v.getName()).noneMatch(name -> name.contains("token"));
            assertThat(pod.getMetadata().getAnnotations()).containsEntry("config.trellis.dev/proxy-mode", "node");
            // Injected once: a second pass leaves it alone.
            assertThat(reason(injector.inject(pod, ns("emojivoto", Map.of()), false))).isEqualTo(PodInjector.SkipReason.ALREADY_INJECTED);
        }
        // The pod's annotation wins over its namespace's.
        assertThat(injected(injector, Map.of("config.trellis.dev/proxy-mode", "node"), Map.of(Annotations.INJECT, "enabled", "config.trellis.dev/proxy-mode", "sidecar"))
                .getSpec().getInitContainers()).extracting(Container::getName).contains("trellis-proxy");
    }

    @Test
    void aProxyModeThatIsNotOneIsRefusedNotTakenForASidecar() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> injected(injector, Map.of(Annotations.INJECT, "enabled", "config.trellis.dev/proxy-mode", "ambient")))
                .isInstanceOf(Annotations.InvalidAnnotationException.class).hasMessageContaining("config.trellis.dev/proxy-mode").hasMessageContaining("ambient");
    }

    @Test
    void withoutNativeSidecarsTheProxyComesFirstAndHoldsTheAppBackUntilReady() throws Exception {
        for (Pod pod : List.of(injected(legacy, Map.of(Annotations.INJECT, "enabled")),
                injected(injector, Map.of(Annotations.INJECT, "enabled", Annotations.NATIVE_SIDECAR, "false")))) {
            assertThat(pod.getSpec().getInitContainers()).extracting(Container::getName).containsExactly("migrate", "trellis-init");
            assertThat(pod.getSpec().getContainers()).extracting(Container::getName).containsExactly("trellis-proxy", "app");
            Container proxy = pod.getSpec().getContainers().getFirst();
            assertThat(proxy.getRestartPolicy()).isNull();
            assertThat(proxy.getLifecycle().getPostStart().getExec().getCommand()).contains("await", "http://127.0.0.1:4191/ready");
        }
    }

    @Test
    void theProxyRunsAsItsOwnUnprivilegedUserWithItsSettingsInTheEnvironment() throws Exception {
        Pod pod = injected(injector, Map.of(Annotations.INJECT, "enabled"));
        Container proxy = pod.getSpec().getInitContainers().get(1);
        var security = proxy.getSecurityContext();
        assertThat(security.getRunAsUser()).isEqualTo(2102L);
        assertThat(security.getRunAsNonRoot()).isTrue();
        assertThat(security.getReadOnlyRootFilesystem()).isTrue();
        assertThat(security.getAllowPrivilegeEscalation()).isFalse();
        assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(security.getCapabilities().getAdd()).isNullOrEmpty();
        Map<String, String> env = env(proxy);
        assertThat(env).containsEntry("TRELLIS_PROXY_IDENTITY", "spiffe://cluster.local/ns/$(TRELLIS_POD_NAMESPACE)/sa/$(TRELLIS_POD_SERVICE_ACCOUNT)")
                .containsEntry("TRELLIS_PROXY_WORKLOAD", "$(TRELLIS_POD_NAME)")
                .containsEntry("TRELLIS_PROXY_TRUST_ANCHORS_PEM", ANCHORS)
                .containsEntry("TRELLIS_PROXY_IDENTITY_ADDR", "trellis-identity.trellis.svc.cluster.local:8080")
                .containsEntry("TRELLIS_PROXY_DESTINATION_ADDR", "trellis-destination.trellis.svc.cluster.local:8086")
                .containsEntry("TRELLIS_PROXY_DESTINATION_NAME", "spiffe://cluster.local/ns/trellis/sa/trellis-destination")
                .containsEntry("TRELLIS_PROXY_ADMIN", "127.0.0.1:4191")
                .containsEntry("TRELLIS_PROXY_PROBE", "0.0.0.0:4192")
                .containsEntry("JAVA_TOOL_OPTIONS", "-Dorg.slf4j.simpleLogger.defaultLogLevel=info")
                .doesNotContainKey("TRELLIS_PROXY_OPAQUE_PORTS");
        // The downward-API variables come before the ones that refer to them.
        List<String> names = proxy.getEnv().stream().map(EnvVar::getName).toList();
        assertThat(names.indexOf("TRELLIS_POD_NAMESPACE")).isLessThan(names.indexOf("TRELLIS_PROXY_IDENTITY"));
        // The identity token is mounted into the proxy alone, from a short-lived projected volume.
        Volume token = pod.getSpec().getVolumes().stream().filter(v -> v.getName().equals("trellis-identity-token")).findFirst().orElseThrow();
        assertThat(token.getProjected().getSources().getFirst().getServiceAccountToken().getAudience()).isEqualTo("identity.trellis.dev");
        assertThat(token.getProjected().getSources().getFirst().getServiceAccountToken().getExpirationSeconds()).isEqualTo(3600L);
        List<Container> all = new java.util.ArrayList<>(pod.getSpec().getInitContainers());
        all.addAll(pod.getSpec().getContainers());
        assertThat(all).filteredOn(c -> c.getVolumeMounts() != null && c.getVolumeMounts().stream().anyMatch(m -> m.getName().equals("trellis-identity-token")))
                .extracting(Container::getName).containsExactly("trellis-proxy");
    }

    @Test
    void proxyInitHasNetAdminAndNetRawAndNothingElse() throws Exception {
        Container init = injected(injector, Map.of(Annotations.INJECT, "enabled")).getSpec().getInitContainers().getFirst();
        var security = init.getSecurityContext();
        assertThat(security.getCapabilities().getAdd()).containsExactly("NET_ADMIN", "NET_RAW");
        assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(security.getPrivileged()).isFalse();
        assertThat(security.getAllowPrivilegeEscalation()).isFalse();
        assertThat(security.getReadOnlyRootFilesystem()).isTrue();
        assertThat(init.getArgs()).containsExactly("init", "--inbound-port", "4143", "--outbound-port", "4140", "--proxy-uid", "2102");
    }

    @Test
    void everyAnnotationReachesTheProxyOrProxyInit() throws Exception {
        Pod pod = injected(injector, Map.ofEntries(Map.entry(Annotations.INJECT, "enabled"), Map.entry(Annotations.PROXY_LOG_LEVEL, "DEBUG")), Map.of(
                Annotations.OPAQUE_PORTS, "3306,8000-8002",
                Annotations.SKIP_INBOUND_PORTS, "22",
                Annotations.SKIP_OUTBOUND_PORTS, "5432, 6379",
                Annotations.SKIP_OUTBOUND_SUBNETS, "10.96.0.0/12,fd00::/8",
                Annotations.PROXY_CPU_REQUEST, "250m", Annotations.PROXY_CPU_LIMIT, "1",
                Annotations.PROXY_MEMORY_REQUEST, "64Mi", Annotations.PROXY_MEMORY_LIMIT, "256Mi",
                Annotations.DEFAULT_INBOUND_POLICY, "all-authenticated"));
        Container init = pod.getSpec().getInitContainers().getFirst();
        Container proxy = pod.getSpec().getInitContainers().get(1);
        assertThat(init.getArgs()).containsSequence("--skip-inbound-ports", "22").containsSequence("--skip-outbound-ports", "5432,6379")
                .containsSequence("--skip-outbound-subnets", "10.96.0.0/12,fd00:0:0:0:0:0:0:0/8");
        assertThat(env(proxy)).containsEntry("TRELLIS_PROXY_OPAQUE_PORTS", "3306,8000,8001,8002")
                .containsEntry("TRELLIS_PROXY_DEFAULT_INBOUND_POLICY", "all-authenticated")
                .containsEntry("JAVA_TOOL_OPTIONS", "-Dorg.slf4j.simpleLogger.defaultLogLevel=debug");
        assertThat(proxy.getResources().getRequests().get("cpu").toString()).isEqualTo("250m");
        assertThat(proxy.getResources().getLimits().get("cpu").toString()).isEqualTo("1");
        assertThat(proxy.getResources().getRequests().get("memory").toString()).isEqualTo("64Mi");
        assertThat(proxy.getResources().getLimits().get("memory").toString()).isEqualTo("256Mi");
    }

    @Test
    void thePodsAnnotationsWinOverItsNamespaces() throws Exception {
        Pod disabled = app(Map.of(Annotations.INJECT, "disabled"));
        assertThat(injector.inject(disabled, ns("emojivoto", Map.of(Annotations.INJECT, "enabled")), false))
                .isInstanceOfSatisfying(PodInjector.Decision.Skipped.class, s -> assertThat(s.reason()).isEqualTo(PodInjector.SkipReason.DISABLED));
        assertThat(injector.inject(app(Map.of()), ns("emojivoto", Map.of(Annotations.INJECT, "enabled", Annotations.PROXY_LOG_LEVEL, "warn")), false))
                .isInstanceOfSatisfying(PodInjector.Decision.Injected.class, i -> assertThat(env(i.pod().getSpec().getInitContainers().get(1)))
                        .containsEntry("JAVA_TOOL_OPTIONS", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"));
    }

    @Test
    void theLabelOptsInAsTheAnnotationDoesAndDecidesWhereTheyDisagree() throws Exception {
        Pod labelled = new PodBuilder(app(Map.of())).editMetadata().addToLabels(Annotations.INJECT, "enabled").endMetadata().build();
        assertThat(injector.inject(labelled, ns("emojivoto", Map.of()), false)).isInstanceOf(PodInjector.Decision.Injected.class);
        NamespaceMetadata labelledNamespace = new NamespaceMetadata("emojivoto", Map.of(Annotations.INJECT, "enabled"), Map.of());
        assertThat(injector.inject(app(Map.of()), labelledNamespace, false)).isInstanceOf(PodInjector.Decision.Injected.class);
        // The pod's own say wins over its namespace's, label or annotation.
        Pod optedOut = new PodBuilder(app(Map.of())).editMetadata().addToLabels(Annotations.INJECT, "disabled").endMetadata().build();
        assertThat(reason(injector.inject(optedOut, labelledNamespace, false))).isEqualTo(PodInjector.SkipReason.DISABLED);
        assertThat(reason(injector.inject(app(Map.of(Annotations.INJECT, "disabled")), labelledNamespace, false)))
                .isEqualTo(PodInjector.SkipReason.DISABLED);
        // On one object the label (what the API server selected on) wins over an annotation that disagrees, with a warning.
        Pod torn = new PodBuilder(app(Map.of(Annotations.INJECT, "disabled"))).editMetadata().addToLabels(Annotations.INJECT, "enabled").endMetadata().build();
        PodInjector.Decision decision = injector.inject(torn, ns("emojivoto", Map.of()), false);
        assertThat(decision).isInstanceOf(PodInjector.Decision.Injected.class);
        assertThat(decision.warnings()).singleElement().asString()
                .contains("labelled trellis.dev/inject=enabled but annotated trellis.dev/inject: disabled; the label decides");
        Pod badLabel = new PodBuilder(app(Map.of())).editMetadata().addToLabels(Annotations.INJECT, "true").endMetadata().build();
        assertThatThrownBy(() -> injector.inject(badLabel, ns("emojivoto", Map.of()), false)).isInstanceOf(Annotations.InvalidAnnotationException.class)
                .hasMessage("trellis.dev/inject: 'true' (the pod's label) is not enabled or disabled");
    }

    @Test
    void aPodThatAskedAndIsNotMeshedOrDeclaresNoPortsIsWarned() throws Exception {
        Pod hostNetwork = new PodBuilder(app(Map.of(Annotations.INJECT, "enabled"))).editSpec().withHostNetwork(true).endSpec().build();
        assertThat(injector.inject(hostNetwork, ns("emojivoto", Map.of()), false).warnings()).singleElement().asString()
                .contains("not meshed: hostNetwork pod");
        Pod portless = new PodBuilder(app(Map.of(Annotations.INJECT, "enabled"))).editSpec().editFirstContainer().withPorts(List.of()).endContainer().endSpec().build();
        assertThat(injector.inject(portless, ns("emojivoto", Map.of()), false).warnings()).singleElement().asString()
                .contains("declares no container ports").contains("targetPort");
        assertThat(injector.inject(app(Map.of(Annotations.INJECT, "enabled")), ns("emojivoto", Map.of()), false).warnings()).isEmpty();
    }

    @Test
    void podsThatMustNotBeInjectedAreLeftAloneWithAReason() throws Exception {
        Map<String, String> enabled = Map.of(Annotations.INJECT, "enabled");
        assertThat(reason(injector.inject(app(Map.of()), ns("emojivoto", Map.of()), false))).isEqualTo(PodInjector.SkipReason.NOT_OPTED_IN);
        Pod hostNetwork = new PodBuilder(app(enabled)).editSpec().withHostNetwork(true).endSpec().build();
        assertThat(reason(injector.inject(hostNetwork, ns("emojivoto", Map.of()), true))).isEqualTo(PodInjector.SkipReason.HOST_NETWORK);
        assertThat(reason(injector.inject(app(enabled), ns("trellis", Map.of()), true))).isEqualTo(PodInjector.SkipReason.CONTROL_PLANE_NAMESPACE);
        Pod once = injected(injector, enabled);
        assertThat(reason(injector.inject(once, ns("emojivoto", Map.of()), true))).isEqualTo(PodInjector.SkipReason.ALREADY_INJECTED);
        assertThat(reason(legacy.inject(injected(legacy, enabled), ns("emojivoto", Map.of()), true))).isEqualTo(PodInjector.SkipReason.ALREADY_INJECTED);
    }

    @Test
    void anAnnotationThatDoesNotParseRefusesThePodNamingIt() {
        for (Map.Entry<String, String> bad : Map.of(
                Annotations.SKIP_OUTBOUND_PORTS, "80,http",
                Annotations.OPAQUE_PORTS, "70000",
                Annotations.SKIP_OUTBOUND_SUBNETS, "10.0.0.0/33",
                Annotations.PROXY_MEMORY_LIMIT, "lots",
                Annotations.PROXY_LOG_LEVEL, "chatty",
                Annotations.DEFAULT_INBOUND_POLICY, "allow-everyone",
                Annotations.NATIVE_SIDECAR, "maybe",
                Annotations.INJECT, "yes").entrySet()) {
            Map<String, String> annotations = new java.util.HashMap<>(Map.of(Annotations.INJECT, "enabled"));
            annotations.put(bad.getKey(), bad.getValue());
            assertThatThrownBy(() -> injector.inject(app(annotations), ns("emojivoto", Map.of()), false))
                    .isInstanceOf(Annotations.InvalidAnnotationException.class)
                    .hasMessageStartingWith(bad.getKey() + ": '");
        }
    }

    @Test
    void uninjectingGivesBackThePodAsItWas() throws Exception {
        Pod original = app(Map.of("team", "blue"));
        for (PodInjector with : List.of(injector, legacy)) {
            Pod injected = switch (with.inject(original, ns("emojivoto", Map.of()), true)) {
                case PodInjector.Decision.Injected i -> i.pod();
                case PodInjector.Decision.Skipped s -> throw new AssertionError(s.detail());
            };
            assertThat(PodInjector.uninject(injected)).isEqualTo(original);
        }
    }

    /** Namespace {@code name} with {@code annotations} and no labels. */
    static NamespaceMetadata ns(String name, Map<String, String> annotations) {
        return new NamespaceMetadata(name, Map.of(), annotations);
    }

    private static PodInjector.SkipReason reason(PodInjector.Decision decision) {
        return decision instanceof PodInjector.Decision.Skipped skipped ? skipped.reason() : null;
    }

    static Map<String, String> env(Container container) {
        return container.getEnv().stream().filter(e -> e.getValue() != null).collect(Collectors.toMap(EnvVar::getName, EnvVar::getValue));
    }
}
