package dev.trellis.injector.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.injector.Annotations;
import dev.trellis.injector.InjectorConfig;
import dev.trellis.injector.PodInjector;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.zjsonpatch.JsonPatch;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * AdmissionReview documents as the API server sends them (pods of each workload kind, shaped
 * after the Kubernetes documentation's examples) in, answers out; the patch applied to the
 * object exactly as sent must give the injected pod.
 */
class AdmissionHandlerTest {

    static final String ANCHORS = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private final AdmissionHandler handler = new AdmissionHandler(() -> new PodInjector(InjectorConfig.builder(ANCHORS).build()),
            namespace -> namespace.equals("meshed-ns") ? Map.of(Annotations.INJECT, "enabled") : Map.of(),
            new InjectorMetrics(new PrometheusRegistry()));

    @Test
    void aPodOfEachWorkloadKindGetsAPatchThatMeshesItWhenApplied() throws Exception {
        for (String review : List.of("pod-of-a-deployment.json", "pod-of-a-statefulset.json", "pod-of-a-daemonset.json",
                "pod-of-a-job.json", "pod-of-a-cronjob.json", "unannotated-pod.json")) {
            byte[] body = resource(review);
            AdmissionResponse response = handler.review(body).getResponse();
            JsonNode sent = JSON.readTree(body);
            assertThat(response.getUid()).isEqualTo(sent.get("request").get("uid").asString());
            assertThat(response.getAllowed()).as(review).isTrue();
            assertThat(response.getPatchType()).as(review).isEqualTo("JSONPatch");
            JsonNode patch = JSON.readTree(Base64.getDecoder().decode(response.getPatch()));
            JsonNode patched = JsonPatch.apply(patch, sent.get("request").get("object"));
            Pod pod = SERIALIZATION.unmarshal(JSON.writeValueAsString(patched), Pod.class);
            assertThat(PodInjector.isInjected(pod.getSpec())).as(review).isTrue();
            assertThat(pod.getSpec().getInitContainers()).extracting(Container::getName).as(review).startsWith("trellis-init", "trellis-proxy");
            // Everything the API server sent that the injector does not own is untouched.
            Pod before = SERIALIZATION.unmarshal(JSON.writeValueAsString(sent.get("request").get("object")), Pod.class);
            assertThat(PodInjector.uninject(pod).getSpec()).as(review).isEqualTo(before.getSpec());
        }
    }

    @Test
    void whatIsNotToBeMeshedIsAllowedUnchanged() throws Exception {
        AdmissionResponse deployment = handler.review(resource("a-deployment.json")).getResponse();
        assertThat(deployment.getAllowed()).isTrue();
        assertThat(deployment.getPatch()).isNull();
        String unannotated = new String(resource("unannotated-pod.json"), StandardCharsets.UTF_8).replace("meshed-ns", "plain-ns");
        AdmissionResponse plain = handler.review(unannotated.getBytes(StandardCharsets.UTF_8)).getResponse();
        assertThat(plain.getAllowed()).isTrue();
        assertThat(plain.getPatch()).isNull();
    }

    @Test
    void aPodWithAnAnnotationThatDoesNotParseIsRefusedNamingIt() throws Exception {
        AdmissionResponse response = handler.review(resource("pod-with-a-bad-annotation.json")).getResponse();
        assertThat(response.getAllowed()).isFalse();
        assertThat(response.getStatus().getCode()).isEqualTo(400);
        assertThat(response.getStatus().getMessage()).contains("config.trellis.dev/skip-outbound-ports: 'http'");
    }

    @Test
    void aFailureOfTheInjectorIsAnExplicitDenial() throws Exception {
        AdmissionHandler broken = new AdmissionHandler(() -> new PodInjector(InjectorConfig.builder(ANCHORS).build()),
                namespace -> {
                    throw new IllegalStateException("the API server did not answer");
                }, new InjectorMetrics(new PrometheusRegistry()));
        AdmissionResponse response = broken.review(resource("pod-of-a-deployment.json")).getResponse();
        assertThat(response.getAllowed()).isFalse();
        assertThat(response.getStatus().getCode()).isEqualTo(500);
        assertThat(response.getStatus().getMessage()).contains("refused rather than created without its proxy").contains("did not answer");
    }

    @Test
    void aBodyThatIsNotAnAdmissionReviewIsABadRequest() throws Exception {
        assertThatThrownBy(() -> handler.review(resource("not-a-review.json"))).isInstanceOf(AdmissionHandler.BadReviewException.class)
                .hasMessageContaining("not an admission.k8s.io/v1 AdmissionReview");
        assertThatThrownBy(() -> handler.review("{\"apiVersion\":".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(AdmissionHandler.BadReviewException.class).hasMessageContaining("not an AdmissionReview");
        assertThatThrownBy(() -> handler.review("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(AdmissionHandler.BadReviewException.class).hasMessageContaining("no request with a uid");
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = AdmissionHandlerTest.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("no test resource " + name);
            }
            return in.readAllBytes();
        }
    }
}
