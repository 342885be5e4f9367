package dev.trellis.injector.manifests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.cluster.manifest.ManifestParser;
import dev.trellis.injector.Annotations;
import dev.trellis.injector.InjectorConfig;
import dev.trellis.injector.PodInjector;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ManifestInjectorTest {

    private static final String ANCHORS = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    private static final String MANIFESTS = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              namespace: emojivoto
            spec:
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  serviceAccountName: web
                  containers:
                  - name: web
                    image: web:1
                    ports: [{containerPort: 8080}]
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: emojivoto
            spec:
              selector: {app: web}
              ports: [{port: 80, targetPort: 8080}]
            ---
            apiVersion: v1
            kind: List
            metadata: {}
            items:
            - apiVersion: v1
              kind: Pod
              metadata: {name: debug}
              spec:
                containers: [{name: sh, image: busybox}]
            - apiVersion: batch/v1
              kind: CronJob
              metadata: {name: report}
              spec:
                schedule: "@hourly"
                jobTemplate:
                  spec:
                    template:
                      spec:
                        restartPolicy: Never
                        containers: [{name: report, image: report:1}]
            """;

    private final ManifestParser parser = new ManifestParser();
    private final ManifestInjector annotate = new ManifestInjector(Optional.empty());
    private final ManifestInjector manual = new ManifestInjector(Optional.of(new PodInjector(InjectorConfig.builder(ANCHORS).build())));

    @Test
    void everyPodTemplateIsAnnotatedAndEverythingElsePassesThrough() throws Exception {
        ManifestInjector.Result result = annotate.apply(MANIFESTS, "app.yaml", ManifestInjector.Mode.ANNOTATE);
        assertThat(result.changed()).containsExactly("Deployment/web", "Pod/debug", "CronJob/report");
        assertThat(result.unchanged()).containsExactly("Service/web");
        List<HasMetadata> objects = parser.parse("out", result.yaml());
        Deployment web = (Deployment) objects.get(0);
        assertThat(web.getSpec().getTemplate().getMetadata().getAnnotations()).containsEntry(Annotations.INJECT, "enabled");
        // The label is what the webhook's selectors match: without it the API server never calls the injector for the pod.
        assertThat(web.getSpec().getTemplate().getMetadata().getLabels()).containsEntry("trellis.dev/inject", "enabled").containsEntry("app", "web");
        assertThat(web.getSpec().getSelector().getMatchLabels()).doesNotContainKey("trellis.dev/inject");
        assertThat(objects.get(1)).isInstanceOf(Service.class).isEqualTo(parser.parse("in", MANIFESTS).get(1));
        assertThat(((Pod) objects.get(2)).getMetadata().getAnnotations()).containsEntry(Annotations.INJECT, "enabled");
        assertThat(((CronJob) objects.get(3)).getSpec().getJobTemplate().getSpec().getTemplate().getMetadata().getAnnotations())
                .containsEntry(Annotations.INJECT, "enabled");
        assertThat(result.yaml()).contains("kind: List").doesNotContain("trellis-proxy");
        // Twice is once.
        assertThat(annotate.apply(result.yaml(), "again", ManifestInjector.Mode.ANNOTATE).yaml()).isEqualTo(result.yaml());
    }

    @Test
    void manualInjectionAddsTheSidecarsOnceAndUninjectUndoesBothForms() throws Exception {
        ManifestInjector.Result injected = manual.apply(MANIFESTS, "app.yaml", ManifestInjector.Mode.MANUAL);
        Deployment web = (Deployment) parser.parse("out", injected.yaml()).getFirst();
        assertThat(PodInjector.isInjected(web.getSpec().getTemplate().getSpec())).isTrue();
        assertThat(web.getSpec().getTemplate().getSpec().getInitContainers()).extracting(c -> c.getName())
                .containsExactly(PodInjector.INIT_CONTAINER, PodInjector.PROXY_CONTAINER);
        assertThat(manual.apply(injected.yaml(), "again", ManifestInjector.Mode.MANUAL).yaml()).isEqualTo(injected.yaml());

        String original = annotate.apply(MANIFESTS, "in", ManifestInjector.Mode.UNINJECT).yaml();
        assertThat(annotate.apply(injected.yaml(), "out", ManifestInjector.Mode.UNINJECT).yaml()).isEqualTo(original);
        String annotated = annotate.apply(MANIFESTS, "in", ManifestInjector.Mode.ANNOTATE).yaml();
        assertThat(annotate.apply(annotated, "out", ManifestInjector.Mode.UNINJECT).yaml()).isEqualTo(original);
    }

    @Test
    void theFirstContainerFormWhenTheAnnotationAsksForIt() throws Exception {
        String classic = MANIFESTS.replace("  labels: {app: web}\n    spec:\n      serviceAccountName",
                "  labels: {app: web}\n      annotations: {config.trellis.dev/proxy-native-sidecar: \"false\"}\n    spec:\n      serviceAccountName");
        assertThat(classic).isNotEqualTo(MANIFESTS);
        Deployment web = (Deployment) parser.parse("out", manual.apply(classic, "app.yaml", ManifestInjector.Mode.MANUAL).yaml()).getFirst();
        assertThat(web.getSpec().getTemplate().getSpec().getContainers().getFirst().getName()).isEqualTo(PodInjector.PROXY_CONTAINER);
        assertThat(web.getSpec().getTemplate().getSpec().getContainers().getFirst().getLifecycle().getPostStart().getExec().getCommand())
                .contains("await");
    }

    @Test
    void aHostNetworkPodIsLeftUnmarkedAndReportedAsSkippedWithTheReason() throws Exception {
        String daemonSet = """
                apiVersion: apps/v1
                kind: DaemonSet
                metadata: {name: node-agent, namespace: monitoring}
                spec:
                  selector: {matchLabels: {app: node-agent}}
                  template:
                    metadata: {labels: {app: node-agent}}
                    spec:
                      hostNetwork: true
                      containers: [{name: agent, image: agent:1}]
                """;
        for (ManifestInjector.Mode mode : List.of(ManifestInjector.Mode.ANNOTATE, ManifestInjector.Mode.MANUAL)) {
            ManifestInjector.Result result = (mode == ManifestInjector.Mode.MANUAL ? manual : annotate).apply(daemonSet, "agent.yaml", mode);
            assertThat(result.changed()).as("%s", mode).isEmpty();
            assertThat(result.skipped()).as("%s", mode).singleElement().asString().startsWith("DaemonSet/node-agent: skipped: hostNetwork pod");
            DaemonSet out = (DaemonSet) parser.parse("out", result.yaml()).getFirst();
            assertThat(out.getSpec().getTemplate().getMetadata().getLabels()).as("%s", mode).doesNotContainKey("trellis.dev/inject");
            assertThat(out.getSpec().getTemplate().getMetadata().getAnnotations()).as("%s", mode).isNullOrEmpty();
        }
    }

    @Test
    void jsonIsReadToo() throws Exception {
        String json = """
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "x"},
                 "spec": {"containers": [{"name": "c", "image": "i"}]}}
                """;
        ManifestInjector.Result result = annotate.apply(json, "pod.json", ManifestInjector.Mode.ANNOTATE);
        assertThat(result.changed()).containsExactly("Pod/p");
    }

    @Test
    void badInputNamesTheFileTheLineAndTheAnnotation() {
        assertThatThrownBy(() -> annotate.apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n", "broken.yaml", ManifestInjector.Mode.ANNOTATE))
                .isInstanceOf(ManifestParser.ManifestException.class).hasMessageStartingWith("broken.yaml:");
        assertThatThrownBy(() -> annotate.apply("- just\n- a list\n", "list.yaml", ManifestInjector.Mode.ANNOTATE))
                .hasMessageContaining("list.yaml:1").hasMessageContaining("apiVersion and kind");
        String badAnnotation = MANIFESTS.replace("  labels: {app: web}\n    spec:\n      serviceAccountName",
                "  labels: {app: web}\n      annotations: {config.trellis.dev/opaque-ports: \"http\"}\n    spec:\n      serviceAccountName");
        assertThatThrownBy(() -> manual.apply(badAnnotation, "app.yaml", ManifestInjector.Mode.MANUAL))
                .hasMessageContaining("app.yaml").hasMessageContaining("Deployment/web").hasMessageContaining(Annotations.OPAQUE_PORTS);
    }
}
