package dev.trellis.injector.webhook;

import static java.util.Objects.requireNonNull;

import dev.trellis.injector.Annotations;
import dev.trellis.injector.PodInjector;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionRequest;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponseBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReviewBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.zjsonpatch.JsonDiff;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * One admission: the {@code AdmissionReview} v1 in, the answer out. A Pod the annotations
 * ask to mesh gets a JSONPatch, computed by diffing the Pod before and after {@link
 * PodInjector} (never written by hand); anything else is allowed unchanged; a pod whose
 * annotations do not parse is refused, naming the annotation; any failure of ours is an
 * explicit denial with its message — with {@code failurePolicy: Fail} the API server then
 * refuses the pod rather than admitting it un-meshed. A body that is not an AdmissionReview
 * is a {@link BadReviewException} (400).
 */
public final class AdmissionHandler {

    private static final Logger log = LoggerFactory.getLogger(AdmissionHandler.class);
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** Annotations of a namespace (the injector reads them from the API, cached briefly). */
    @FunctionalInterface
    public interface NamespaceAnnotations {
        Map<String, String> of(String namespace);
    }

    private final Supplier<PodInjector> injector;
    private final NamespaceAnnotations namespaces;
    private final InjectorMetrics metrics;

    public AdmissionHandler(Supplier<PodInjector> injector, NamespaceAnnotations namespaces, InjectorMetrics metrics) {
        this.injector = requireNonNull(injector, "injector");
        this.namespaces = requireNonNull(namespaces, "namespaces");
        this.metrics = requireNonNull(metrics, "metrics");
    }

    /** A request body the webhook cannot read as an AdmissionReview v1. */
    public static final class BadReviewException extends Exception {
        BadReviewException(String message) {
            super(message);
        }
    }

    /** The AdmissionReview answering {@code body}. */
    public AdmissionReview review(byte[] body) throws BadReviewException {
        long started = System.nanoTime();
        AdmissionReview review;
        try {
            review = SERIALIZATION.unmarshal(new String(body, StandardCharsets.UTF_8), AdmissionReview.class);
        } catch (RuntimeException e) {
            metrics.admission("bad_request", "unreadable");
            throw new BadReviewException("not an AdmissionReview: " + e.getMessage());
        }
        if (review == null || !"admission.k8s.io/v1".equals(review.getApiVersion()) || !"AdmissionReview".equals(review.getKind())) {
            metrics.admission("bad_request", "not_a_review");
            throw new BadReviewException("not an admission.k8s.io/v1 AdmissionReview (apiVersion "
                    + (review == null ? null : review.getApiVersion()) + ", kind " + (review == null ? null : review.getKind()) + ")");
        }
        AdmissionRequest request = review.getRequest();
        if (request == null || request.getUid() == null || request.getUid().isBlank()) {
            metrics.admission("bad_request", "no_request");
            throw new BadReviewException("the AdmissionReview has no request with a uid");
        }
        AdmissionResponse response = respond(request);
        metrics.latency(System.nanoTime() - started);
        return new AdmissionReviewBuilder().withApiVersion("admission.k8s.io/v1").withKind("AdmissionReview").withResponse(response).build();
    }

    private AdmissionResponse respond(AdmissionRequest request) {
        AdmissionResponseBuilder allowed = new AdmissionResponseBuilder().withUid(request.getUid()).withAllowed(true);
        boolean isPod = request.getKind() != null && "Pod".equals(request.getKind().getKind()) && (request.getKind().getGroup() == null
                || request.getKind().getGroup().isEmpty()) && request.getObject() != null;
        if (!isPod || (request.getSubResource() != null && !request.getSubResource().isEmpty())) {
            metrics.admission("skipped", "not_a_pod");
            return allowed.build();
        }
        String namespace = request.getNamespace();
        try {
            Pod original = SERIALIZATION.unmarshal(SERIALIZATION.asJson(request.getObject()), Pod.class);
            String ns = namespace != null ? namespace : original.getMetadata() == null ? "default" : original.getMetadata().getNamespace();
            PodInjector.Decision decision = injector.get().inject(original, ns, namespaces.of(ns), false);
            String name = ns + "/" + (original.getMetadata() == null ? "" : original.getMetadata().getName() != null
                    ? original.getMetadata().getName() : original.getMetadata().getGenerateName() + "*");
            return switch (decision) {
                case PodInjector.Decision.Skipped skipped -> {
                    log.debug("injector: {} left alone: {}", name, skipped.detail());
                    metrics.admission("skipped", skipped.reason().label());
                    yield allowed.build();
                }
                case PodInjector.Decision.Injected injected -> {
                    JsonNode before = JSON.readTree(SERIALIZATION.asJson(original));
                    JsonNode after = JSON.readTree(SERIALIZATION.asJson(injected.pod()));
                    String patch = JSON.writeValueAsString(JsonDiff.asJson(before, after));
                    log.info("injector: injected {}", name);
                    metrics.admission("injected", "");
                    yield allowed.withPatchType("JSONPatch").withPatch(Base64.getEncoder().encodeToString(patch.getBytes(StandardCharsets.UTF_8))).build();
                }
            };
        } catch (Annotations.InvalidAnnotationException e) {
            metrics.admission("refused", "invalid_annotation");
            log.info("injector: refused a pod in {}: {}", namespace, e.getMessage());
            return denied(request, 400, "trellis injector: " + e.getMessage());
        } catch (RuntimeException e) {
            metrics.admission("error", e.getClass().getSimpleName());
            log.warn("injector: failed on a pod in {}: {}", namespace, e.toString());
            return denied(request, 500, "trellis injector failed, so the pod is refused rather than created without its proxy: " + e.getMessage());
        }
    }

    private static AdmissionResponse denied(AdmissionRequest request, int code, String message) {
        return new AdmissionResponseBuilder().withUid(request.getUid()).withAllowed(false)
                .withStatus(new StatusBuilder().withCode(code).withMessage(message).build()).build();
    }
}
