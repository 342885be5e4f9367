package dev.trellis.injector.webhook;

import dev.trellis.core.text.Causes;
import static java.util.Objects.requireNonNull;

import dev.trellis.core.metadata.MetadataKeys;
import dev.trellis.injector.NamespaceMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Namespaces' labels and annotations from an informer's cache, so that an admission does not
 * wait on the API server: the cache follows the API by a watch and keeps answering while the
 * API server is unreachable. A namespace not (yet) in the cache — created a moment ago, or
 * the informer not synced — is read from the API, within the time the admission has left;
 * past it, or on an error, {@link AdmissionHandler.NamespaceUnavailableException} names why.
 * Logs namespaces that ask for injection by annotation only: the API server does not send
 * their pods to the injector. Thread-safe.
 */
public final class NamespaceCache implements AdmissionHandler.Namespaces, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NamespaceCache.class);

    private final KubernetesClient client;
    private final SharedIndexInformer<Namespace> informer;
    private final Executor reads;

    private NamespaceCache(KubernetesClient client, SharedIndexInformer<Namespace> informer, Executor reads) {
        this.client = client;
        this.informer = informer;
        this.reads = reads;
    }

    /** Starts watching namespaces; answers from the API until the first list has arrived. {@code reads} runs direct reads. */
    public static NamespaceCache start(KubernetesClient client, Executor reads) {
        requireNonNull(client, "client");
        SharedIndexInformer<Namespace> informer = client.namespaces().runnableInformer(0);
        informer.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Namespace namespace) {
                warnIfOnlyAnnotated(namespace);
            }

            @Override
            public void onUpdate(Namespace before, Namespace after) {
                warnIfOnlyAnnotated(after);
            }

            @Override
            public void onDelete(Namespace namespace, boolean unknownFinalState) {
            }
        });
        // fabric8 stops an informer whose first list fails; this one keeps trying (the API server may be down as the
        // injector starts), and stays not ready until it has synced. Failures are logged at most every 30 s.
        java.util.concurrent.atomic.AtomicLong lastWarning = new java.util.concurrent.atomic.AtomicLong();
        informer.exceptionHandler((started, failure) -> {
            long now = System.nanoTime();
            long last = lastWarning.get();
            if ((last == 0 || now - last > 30_000_000_000L) && lastWarning.compareAndSet(last, now)) {
                log.warn("injector: the namespace watch failed ({}); retrying; namespaces are read from the API server meanwhile", Causes.rootMessage(failure));
            }
            return true;
        });
        informer.start().whenComplete((done, failure) -> {
            if (failure == null) {
                log.info("injector: namespace cache synced ({} namespaces)", informer.getStore().list().size());
            }
        });
        return new NamespaceCache(client, informer, requireNonNull(reads, "reads"));
    }

    /** For {@code /ready}: empty once the first list of namespaces has arrived. */
    public Optional<String> notReadyReason() {
        return informer.hasSynced() ? Optional.empty() : Optional.of("the namespace cache has not synced with the API server yet");
    }

    @Override
    public NamespaceMetadata of(String namespace, Duration timeLeft) throws AdmissionHandler.NamespaceUnavailableException {
        Namespace cached = informer.getStore().getByKey(namespace);
        if (cached != null) {
            return NamespaceMetadata.of(cached);
        }
        String why = informer.hasSynced() ? "not in the injector's cache yet" : "not in the injector's cache, which has not synced with the API server";
        CompletableFuture<Namespace> read = CompletableFuture.supplyAsync(() -> client.namespaces().withName(namespace).get(), reads);
        try {
            Namespace found = read.get(timeLeft.toNanos(), TimeUnit.NANOSECONDS);
            if (found == null) {
                throw new AdmissionHandler.NamespaceUnavailableException("namespace " + namespace + " does not exist");
            }
            return NamespaceMetadata.of(found);
        } catch (TimeoutException e) {
            read.cancel(true);
            throw new AdmissionHandler.NamespaceUnavailableException("namespace " + namespace + " is " + why
                    + ", and the API server did not answer for it within the " + timeLeft.toMillis() + " ms left");
        } catch (ExecutionException e) {
            throw new AdmissionHandler.NamespaceUnavailableException("namespace " + namespace + " is " + why + ", and the API server did not answer for it: "
                    + (e.getCause() == null ? e : e.getCause().getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdmissionHandler.NamespaceUnavailableException("interrupted while reading namespace " + namespace);
        }
    }


    private static void warnIfOnlyAnnotated(Namespace namespace) {
        Map<String, String> annotations = namespace.getMetadata().getAnnotations();
        Map<String, String> labels = namespace.getMetadata().getLabels();
        if (annotations != null && MetadataKeys.ENABLED.equals(annotations.get(MetadataKeys.INJECT))
                && (labels == null || !labels.containsKey(MetadataKeys.INJECT))) {
            log.warn("injector: namespace {} is annotated {}: {} but not labelled, so the API server does not send its pods here; "
                    + "label it: kubectl label namespace {} {}={}", namespace.getMetadata().getName(), MetadataKeys.INJECT, MetadataKeys.ENABLED,
                    namespace.getMetadata().getName(), MetadataKeys.INJECT, MetadataKeys.ENABLED);
        }
    }

    @Override
    public void close() {
        informer.close();
    }
}
