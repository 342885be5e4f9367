package dev.trellis.injector.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.injector.Annotations;
import dev.trellis.injector.InjectorConfig;
import dev.trellis.injector.NamespaceMetadata;
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
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
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

    private static final Duration BUDGET = Duration.ofSeconds(8);
    private final ExecutorService work = Executors.newVirtualThreadPerTaskExecutor();
    private final AdmissionHandler handler = new AdmissionHandler(() -> new PodInjector(InjectorConfig.builder(ANCHORS).build()),
            (namespace, timeLeft) -> new NamespaceMetadata(namespace, namespace.equals("meshed-ns") ? Map.of(Annotations.INJECT, "enabled") : Map.of(), Map.of()),
            new InjectorMetrics(new PrometheusRegistry()), work);

    @AfterEach
    void stop() {
        work.shutdownNow();
    }

    private AdmissionResponse answer(AdmissionHandler with, byte[] body) throws Exception {
        return with.review(body, BUDGET).get(30, TimeUnit.SECONDS).getResponse();
    }

    @Test
    void aPodOfEachWorkloadKindGetsAPatchThatMeshesItWhenApplied() throws Exception {
        for (String review : List.of("pod-of-a-deployment.json", "pod-of-a-statefulset.json", "pod-of-a-daemonset.json",
                "pod-of-a-job.json", "pod-of-a-cronjob.json", "unannotated-pod.json")) {
            byte[] body = resource(review);
            AdmissionResponse response = answer(handler, body);
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
        AdmissionResponse deployment = answer(handler, resource("a-deployment.json"));
        assertThat(deployment.getAllowed()).isTrue();
        assertThat(deployment.getPatch()).isNull();
        String unannotated = new String(resource("unannotated-pod.json"), StandardCharsets.UTF_8).replace("meshed-ns", "plain-ns");
        AdmissionResponse plain = answer(handler, unannotated.getBytes(StandardCharsets.UTF_8));
        assertThat(plain.getAllowed()).isTrue();
        assertThat(plain.getPatch()).isNull();
    }

    @Test
    void aPodWithAnAnnotationThatDoesNotParseIsRefusedNamingIt() throws Exception {
        AdmissionResponse response = answer(handler, resource("pod-with-a-bad-annotation.json"));
        assertThat(response.getAllowed()).isFalse();
        assertThat(response.getStatus().getCode()).isEqualTo(400);
        assertThat(response.getStatus().getMessage()).contains("config.trellis.dev/skip-outbound-ports: 'http'");
    }

    @Test
    void aFailureOfTheInjectorIsAnExplicitDenial() throws Exception {
        AdmissionHandler broken = new AdmissionHandler(() -> new PodInjector(InjectorConfig.builder(ANCHORS).build()),
                (namespace, timeLeft) -> {
                    throw new AdmissionHandler.NamespaceUnavailableException("the API server did not answer");
                }, new InjectorMetrics(new PrometheusRegistry()), work);
        AdmissionResponse response = answer(broken, resource("pod-of-a-deployment.json"));
        assertThat(response.getAllowed()).isFalse();
        assertThat(response.getStatus().getCode()).isEqualTo(503);
        assertThat(response.getStatus().getMessage()).contains("refused rather than created without its proxy").contains("did not answer");
    }

    @Test
    void anAnswerNotReadyByTheDeadlineIsADenialNamingWhatItWaitedFor() throws Exception {
        // A namespace read that hangs, as one to an unreachable API server does: the answer still comes by the deadline.
        AdmissionHandler stuck = new AdmissionHandler(() -> new PodInjector(InjectorConfig.builder(ANCHORS).build()),
                (namespace, timeLeft) -> {
                    try {
                        Thread.sleep(60_000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    throw new AdmissionHandler.NamespaceUnavailableException("too late");
                }, new InjectorMetrics(new PrometheusRegistry()), work);
        long started = System.nanoTime();
        AdmissionResponse response = stuck.review(resource("pod-of-a-deployment.json"), Duration.ofMillis(300)).get(10, TimeUnit.SECONDS).getResponse();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        assertThat(response.getAllowed()).isFalse();
        assertThat(response.getUid()).isEqualTo(JSON.readTree(resource("pod-of-a-deployment.json")).get("request").get("uid").asString());
        assertThat(response.getStatus().getCode()).isEqualTo(504);
        assertThat(response.getStatus().getMessage()).contains("could not answer within 300 ms").contains("while reading namespace emojivoto")
                .contains("refused rather than created without its proxy");
    }

    @Test
    void warningsReachTheAnswer() throws Exception {
        String portless = new String(resource("unannotated-pod.json"), StandardCharsets.UTF_8);
        AdmissionResponse response = answer(handler, portless.getBytes(StandardCharsets.UTF_8));
        assertThat(response.getAllowed()).isTrue();
        assertThat(response.getWarnings()).anySatisfy(w -> assertThat(w).contains("declares no container ports"));
    }

    @Test
    void aBodyThatIsNotAnAdmissionReviewIsABadRequest() throws Exception {
        assertThatThrownBy(() -> handler.review(resource("not-a-review.json"), BUDGET)).isInstanceOf(AdmissionHandler.BadReviewException.class)
                .hasMessageContaining("not an admission.k8s.io/v1 AdmissionReview");
        // Malformed JSON: what is wrong and where, not a generic "An error has occurred."
        assertThatThrownBy(() -> handler.review("{\"apiVersion\":".getBytes(StandardCharsets.UTF_8), BUDGET))
                .isInstanceOf(AdmissionHandler.BadReviewException.class).hasMessageContaining("not an AdmissionReview")
                .hasMessageContaining("end-of-input").hasMessageContaining("line 1, column").hasMessageNotContaining("An error has occurred");
        assertThatThrownBy(() -> handler.review("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}".getBytes(StandardCharsets.UTF_8), BUDGET))
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
