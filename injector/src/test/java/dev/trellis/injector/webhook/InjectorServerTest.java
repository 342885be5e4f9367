package dev.trellis.injector.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.net.HostPort;
import dev.trellis.injector.Annotations;
import dev.trellis.injector.InjectorConfig;
import dev.trellis.injector.NamespaceMetadata;
import dev.trellis.injector.PodInjector;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.ServingCertificates;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The webhook over real HTTPS, as the API server calls it: verified by its own CA, bounded, reloading its certificate. */
class InjectorServerTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    @TempDir
    Path dir;

    private final ExecutorService work = Executors.newVirtualThreadPerTaskExecutor();
    private CaCredentials ca;
    private InjectorServer server;

    @BeforeEach
    void start() throws Exception {
        ca = ServingCertificates.newCa("webhook.test", Duration.ofDays(30), Instant.now());
        writeServing(ca);
        AdmissionHandler handler = new AdmissionHandler(() -> new PodInjector(InjectorConfig.builder(AdmissionHandlerTest.ANCHORS).build()),
                (namespace, timeLeft) -> {
                    if (namespace.equals("slow-ns")) {
                        try {
                            Thread.sleep(timeLeft.toMillis() + 5_000);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return new NamespaceMetadata(namespace, Map.of(Annotations.INJECT, "enabled"), Map.of());
                }, new InjectorMetrics(new PrometheusRegistry()), work);
        server = InjectorServer.start(HostPort.parse("127.0.0.1:0"), dir.resolve("tls.crt"), dir.resolve("tls.key"), handler, Duration.ofMillis(100));
    }

    @AfterEach
    void stop() {
        server.close();
        work.shutdownNow();
    }

    @Test
    void theAnswerComesWithinTheApiServersTimeoutLessAMargin() throws Exception {
        String slow = new String(resource("pod-of-a-deployment.json"), java.nio.charset.StandardCharsets.UTF_8).replace("emojivoto", "slow-ns");
        long started = System.nanoTime();
        HttpResponse<String> response = post("/inject?timeout=2s", slow.getBytes(java.nio.charset.StandardCharsets.UTF_8), ca);
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertThat(response.statusCode()).isEqualTo(200);
        AdmissionReview review = SERIALIZATION.unmarshal(response.body(), AdmissionReview.class);
        assertThat(review.getResponse().getAllowed()).isFalse();
        assertThat(review.getResponse().getStatus().getMessage()).contains("could not answer within 1000 ms").contains("reading namespace slow-ns");
        assertThat(took).isLessThan(Duration.ofSeconds(2));
    }

    @Test
    void theBudgetIsTheTimeoutLessAFifthOrASecond() {
        assertThat(InjectorServer.budget(java.util.Optional.of("10s"))).isEqualTo(Duration.ofSeconds(8));
        assertThat(InjectorServer.budget(java.util.Optional.of("30s"))).isEqualTo(Duration.ofSeconds(24));
        assertThat(InjectorServer.budget(java.util.Optional.of("2s"))).isEqualTo(Duration.ofSeconds(1));
        assertThat(InjectorServer.budget(java.util.Optional.of("1s"))).isEqualTo(Duration.ofMillis(500));
        assertThat(InjectorServer.budget(java.util.Optional.of("5m"))).isEqualTo(Duration.ofSeconds(24));
        assertThat(InjectorServer.budget(java.util.Optional.of("soon"))).isEqualTo(Duration.ofSeconds(8));
        assertThat(InjectorServer.budget(java.util.Optional.empty())).isEqualTo(Duration.ofSeconds(8));
    }

    @Test
    void aReviewPostedOverVerifiedTlsIsAnsweredWithAPatch() throws Exception {
        HttpResponse<String> response = post("/inject", resource("pod-of-a-deployment.json"), ca);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
        AdmissionReview review = SERIALIZATION.unmarshal(response.body(), AdmissionReview.class);
        assertThat(review.getResponse().getAllowed()).isTrue();
        assertThat(review.getResponse().getPatchType()).isEqualTo("JSONPatch");
    }

    @Test
    void wrongPathsMethodsBodiesAndSizesGetClearAnswers() throws Exception {
        assertThat(post("/mutate", resource("pod-of-a-deployment.json"), ca).statusCode()).isEqualTo(404);
        HttpResponse<String> get = client(ca).send(HttpRequest.newBuilder(uri("/inject")).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(get.statusCode()).isEqualTo(405);
        HttpResponse<String> notReview = post("/inject", "{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}".getBytes(), ca);
        assertThat(notReview.statusCode()).isEqualTo(400);
        assertThat(notReview.body()).contains("not an admission.k8s.io/v1 AdmissionReview");
        HttpResponse<String> garbage = post("/inject", "{\"apiVersion\": ".getBytes(), ca);
        assertThat(garbage.statusCode()).isEqualTo(400);
        assertThat(garbage.body()).contains("not an AdmissionReview");
        HttpResponse<String> oversized = post("/inject", new byte[InjectorServer.MAX_BODY_BYTES + 1], ca);
        assertThat(oversized.statusCode()).isEqualTo(413);
        // The listener is still there for the next honest review.
        assertThat(post("/inject", resource("pod-of-a-deployment.json"), ca).statusCode()).isEqualTo(200);
    }

    @Test
    void aNewServingCertificateIsUsedWithoutARestartAndAnUnreadableOneIsNot() throws Exception {
        CaCredentials next = ServingCertificates.newCa("webhook.test", Duration.ofDays(30), Instant.now());
        writeServing(next);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try {
                assertThat(post("/inject", resource("pod-of-a-deployment.json"), next).statusCode()).isEqualTo(200);
                break;
            } catch (SSLHandshakeException stillOld) {
                if (System.nanoTime() > deadline) {
                    throw stillOld;
                }
                Thread.sleep(100);
            }
        }
        try {
            post("/inject", resource("pod-of-a-deployment.json"), ca);
            throw new AssertionError("the old CA must no longer verify the webhook");
        } catch (SSLHandshakeException expected) {
            // the new certificate is served
        }
        Files.writeString(dir.resolve("tls.crt"), "not a certificate");
        Thread.sleep(300);
        assertThat(post("/inject", resource("pod-of-a-deployment.json"), next).statusCode()).isEqualTo(200);
    }

    private void writeServing(CaCredentials issuer) throws Exception {
        ServingCertificates.Serving serving = ServingCertificates.issue(issuer, List.of("localhost"), Duration.ofDays(1), Instant.now());
        Path crt = dir.resolve("tls.crt.next");
        Path key = dir.resolve("tls.key.next");
        Files.writeString(crt, Pem.encodeCertificates(List.of(serving.certificate())));
        Files.writeString(key, Pem.encodePrivateKey(serving.key()));
        Files.move(key, dir.resolve("tls.key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Files.move(crt, dir.resolve("tls.crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private URI uri(String path) {
        return URI.create("https://localhost:" + server.address().getPort() + path);
    }

    private HttpResponse<String> post(String path, byte[] body, CaCredentials trusted) throws Exception {
        return client(trusted).send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** A client that trusts only {@code ca} and checks the host name, as the API server does with the caBundle. */
    private static HttpClient client(CaCredentials ca) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setCertificateEntry("ca", (X509Certificate) ca.certificate());
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(context).version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private static byte[] resource(String name) throws Exception {
        try (InputStream in = InjectorServerTest.class.getResourceAsStream(name)) {
            return in.readAllBytes();
        }
    }
}
