package dev.trellis.injector.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Namespaces for admissions: from the watched cache, else read within the time left, else a reason. */
@EnableKubernetesMockClient(crud = true)
class NamespaceCacheTest {

    KubernetesClient client;

    private final ExecutorService reads = Executors.newVirtualThreadPerTaskExecutor();

    @AfterEach
    void stop() {
        reads.shutdownNow();
    }

    @Test
    void aNamespaceComesFromTheCacheOnceSyncedAndANewOneFromTheApi() throws Exception {
        client.resource(new NamespaceBuilder().withNewMetadata().withName("shop").addToLabels("trellis.dev/inject", "enabled")
                .addToAnnotations("config.trellis.dev/proxy-log-level", "debug").endMetadata().build()).create();
        try (NamespaceCache cache = NamespaceCache.start(client, reads)) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> cache.notReadyReason().isEmpty());
            var shop = cache.of("shop", Duration.ofSeconds(1));
            assertThat(shop.labels()).containsEntry("trellis.dev/inject", "enabled");
            assertThat(shop.annotations()).containsEntry("config.trellis.dev/proxy-log-level", "debug");
            assertThat(cache.of("shop", Duration.ZERO).name()).isEqualTo("shop");
            assertThatThrownBy(() -> cache.of("nowhere", Duration.ofSeconds(2))).isInstanceOf(AdmissionHandler.NamespaceUnavailableException.class)
                    .hasMessage("namespace nowhere does not exist");
        }
    }

    @Test
    void anUnreachableApiServerIsNamedAndTheCacheStaysNotReadyWhileItKeepsTrying() throws Exception {
        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort();
        }
        try (KubernetesClient unreachable = new KubernetesClientBuilder().withConfig(new ConfigBuilder().withMasterUrl("http://127.0.0.1:" + closed)
                .withRequestRetryBackoffLimit(0).withConnectionTimeout(500).withRequestTimeout(500).build()).build();
             NamespaceCache cache = NamespaceCache.start(unreachable, reads)) {
            assertThatThrownBy(() -> cache.of("shop", Duration.ofSeconds(2))).isInstanceOf(AdmissionHandler.NamespaceUnavailableException.class)
                    .hasMessageStartingWith("namespace shop is not in the injector's cache, which has not synced with the API server, "
                            + "and the API server did not answer for it");
            Thread.sleep(1500);
            assertThat(cache.notReadyReason()).hasValue("the namespace cache has not synced with the API server yet");
        }
    }
}
