package dev.trellis.injector.webhook;

import dev.trellis.core.text.Causes;
import static java.util.Objects.requireNonNull;

import dev.trellis.injector.Annotations;
import dev.trellis.injector.NamespaceMetadata;
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
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * One admission: the {@code AdmissionReview} v1 in, the answer out, always within the time the
 * API server gives the call. A Pod the labels and annotations ask to mesh gets a JSONPatch,
 * computed by diffing the Pod before and after {@link PodInjector} (never written by hand);
 * anything else is allowed unchanged; a pod whose opt-in or settings do not parse is refused,
 * naming the label or annotation; any failure of ours — and an answer not ready by the
 * deadline — is an explicit denial naming the cause: the webhooks select only pods that opted
 * in, and for those {@code failurePolicy: Fail} means refused rather than admitted un-meshed.
 * What the user should know about an admitted pod goes into the answer's {@code warnings}
 * (kubectl prints them). A body that is not an AdmissionReview is a {@link BadReviewException}
 * (400).
 */
public final class AdmissionHandler {

    private static final Logger log = LoggerFactory.getLogger(AdmissionHandler.class);
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** The labels and annotations of a namespace, read within the time left for the answer. */
    @FunctionalInterface
    public interface Namespaces {
        /** @throws NamespaceUnavailableException naming why the namespace could not be read in {@code timeLeft} */
        NamespaceMetadata of(String namespace, Duration timeLeft) throws NamespaceUnavailableException;
    }

    /** A namespace the injector could not read, and why. */
    public static final class NamespaceUnavailableException extends Exception {
        public NamespaceUnavailableException(String message) {
            super(message);
        }
    }

    /** A request body the webhook cannot read as an AdmissionReview v1. */
    public static final class BadReviewException extends Exception {
        BadReviewException(String message) {
            super(message);
        }
    }

    private final Supplier<PodInjector> injector;
    private final Namespaces namespaces;
    private final InjectorMetrics metrics;
    private final Executor work;

    /** {@code work} runs each answer, so that one past its deadline can be given up on. */
    public AdmissionHandler(Supplier<PodInjector> injector, Namespaces namespaces, InjectorMetrics metrics, Executor work) {
        this.injector = requireNonNull(injector, "injector");
        this.namespaces = requireNonNull(namespaces, "namespaces");
        this.metrics = requireNonNull(metrics, "metrics");
        this.work = requireNonNull(work, "work");
    }

    /**
     * The AdmissionReview answering {@code body}, complete within {@code budget}: when the
     * injection is not decided by then, an explicit denial naming what it was waiting for.
     *
     * @throws BadReviewException at once, when the body is not an AdmissionReview v1 with a request
     */
    public CompletableFuture<AdmissionReview> review(byte[] body, Duration budget) throws BadReviewException {
        long started = System.nanoTime();
        AdmissionRequest request = parse(body);
        Progress progress = new Progress(started + budget.toNanos());
        return CompletableFuture.supplyAsync(() -> respond(request, progress), work)
                .orTimeout(budget.toNanos(), TimeUnit.NANOSECONDS)
                .exceptionally(failure -> {
                    if (failure instanceof TimeoutException) {
                        metrics.admission("error", "deadline");
                        String why = "trellis injector could not answer within " + budget.toMillis() + " ms (the API server's deadline, less a margin)"
                                + " while " + progress.stage() + ", so the pod is refused rather than created without its proxy";
                        log.warn("injector: refused a pod in {}: {}", request.getNamespace(), why);
                        return denied(request, 504, why);
                    }
                    metrics.admission("error", failure.getClass().getSimpleName());
                    return denied(request, 500, "trellis injector failed, so the pod is refused rather than created without its proxy: " + failure);
                })
                .thenApply(response -> {
                    metrics.latency(System.nanoTime() - started);
                    return new AdmissionReviewBuilder().withApiVersion("admission.k8s.io/v1").withKind("AdmissionReview").withResponse(response).build();
                });
    }

    private AdmissionRequest parse(byte[] body) throws BadReviewException {
        AdmissionReview review;
        try {
            review = SERIALIZATION.unmarshal(new String(body, StandardCharsets.UTF_8), AdmissionReview.class);
        } catch (RuntimeException e) {
            throw bad("unreadable", "not an AdmissionReview: the body is not its JSON (" + rootMessage(e) + ")");
        }
        if (review == null || !"admission.k8s.io/v1".equals(review.getApiVersion()) || !"AdmissionReview".equals(review.getKind())) {
            throw bad("not_a_review", "not an admission.k8s.io/v1 AdmissionReview (apiVersion "
                    + (review == null ? null : review.getApiVersion()) + ", kind " + (review == null ? null : review.getKind()) + ")");
        }
        AdmissionRequest request = review.getRequest();
        if (request == null || request.getUid() == null || request.getUid().isBlank()) {
            throw bad("no_request", "the AdmissionReview has no request with a uid");
        }
        return request;
    }

    private BadReviewException bad(String reason, String message) {
        metrics.admission("bad_request", reason);
        return new BadReviewException(message);
    }

    private AdmissionResponse respond(AdmissionRequest request, Progress progress) {
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
            String ns = namespace != null ? namespace : original.getMetadata() == null || original.getMetadata().getNamespace() == null
                    ? "default" : original.getMetadata().getNamespace();
            progress.now("reading namespace " + ns);
            NamespaceMetadata metadata = namespaces.of(ns, progress.timeLeft());
            progress.now("injecting the pod");
            PodInjector.Decision decision = injector.get().inject(original, metadata, false);
            String name = ns + "/" + (original.getMetadata() == null ? "" : original.getMetadata().getName() != null
                    ? original.getMetadata().getName() : original.getMetadata().getGenerateName() + "*");
            if (!decision.warnings().isEmpty()) {
                allowed.withWarnings(decision.warnings());
            }
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
        } catch (NamespaceUnavailableException e) {
            metrics.admission("error", "namespace_unavailable");
            log.warn("injector: refused a pod in {}: {}", namespace, e.getMessage());
            return denied(request, 503, "trellis injector cannot read the pod's namespace, so the pod is refused rather than created without its proxy: "
                    + e.getMessage());
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

    /** What the parser said and where (Jackson's location, which its message puts on a line of its own), else the root cause. */
    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (root instanceof tools.jackson.core.JacksonException json && json.getLocation() != null && json.getLocation().getLineNr() > 0) {
            return json.getOriginalMessage() + " at line " + json.getLocation().getLineNr() + ", column " + json.getLocation().getColumnNr();
        }
        return Causes.rootMessage(e);
    }

    /** What an answer is doing now, for the denial that names it when the deadline passes; and how long it has left. */
    private static final class Progress {
        private final long deadlineNanos;
        private volatile String stage = "reading the pod";

        Progress(long deadlineNanos) {
            this.deadlineNanos = deadlineNanos;
        }

        void now(String stage) {
            this.stage = stage;
        }

        String stage() {
            return stage;
        }

        Duration timeLeft() {
            return Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime()));
        }
    }
}
