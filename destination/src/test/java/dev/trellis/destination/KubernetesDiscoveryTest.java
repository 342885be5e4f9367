package dev.trellis.destination;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.destination.v1.GetDestination;
import dev.trellis.cluster.kubernetes.KubernetesClusterSource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.testing.TestPki;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Discovery against a Kubernetes API (fabric8's mock server in CRUD mode) through informers. */
@EnableKubernetesMockClient(crud = true)
class KubernetesDiscoveryTest {

    private static final String AUTHORITY = "emoji-svc.emojivoto.svc.cluster.local:80";

    KubernetesClient client;

    @TempDir
    Path dir;

    @Test
    void getFollowsServicesSlicesAndPodsWithIdentitiesFromServiceAccounts() throws Exception {
        try (KubernetesClusterSource source = KubernetesClusterSource.start(client, Duration.ofMillis(20));
             DestinationFixture fixture = new DestinationFixture(dir, source, c -> c)) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(source::synced);
            UpdateRecorder stream = new UpdateRecorder();
            fixture.destination(TestPki.identity("emojivoto", "web")).get(GetDestination.newBuilder().setAuthority(AUTHORITY).build(), stream);

            apply(Manifests.app("emojivoto", "emoji-svc", "emoji", 5, 2, ""));
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().equals(Set.of("10.0.5.1:8080", "10.0.5.2:8080")));
            assertThat(stream.identities()).containsOnly(new WorkloadIdentity(TestPki.TRUST_DOMAIN, "emojivoto", "emoji").spiffeId());

            // Scale up: a third pod and its slice entry.
            long scaled = System.nanoTime();
            apply(Manifests.pod("emojivoto", "emoji-svc-2", "emoji", "10.0.5.3", true) + Manifests.slice("emojivoto", "emoji-svc", 5, true, true, true));
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().size() == 3);
            assertThat(Duration.ofNanos(System.nanoTime() - scaled)).isLessThan(Duration.ofSeconds(1));

            // Delete a pod (the slice drops it) and then the whole slice.
            long deleted = System.nanoTime();
            client.pods().inNamespace("emojivoto").withName("emoji-svc-0").delete();
            apply(Manifests.slice("emojivoto", "emoji-svc", 5, false, true, true));
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().equals(Set.of("10.0.5.2:8080", "10.0.5.3:8080")));
            assertThat(Duration.ofNanos(System.nanoTime() - deleted)).isLessThan(Duration.ofSeconds(1));
            client.discovery().v1().endpointSlices().inNamespace("emojivoto").withName("emoji-svc-slice").delete();
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().isEmpty());
            assertThat(stream.updates.getLast().hasNoEndpoints() || stream.updates.getLast().hasRemove()).isTrue();
        }
    }

    private void apply(String yaml) {
        List<HasMetadata> items = client.load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))).items();
        for (HasMetadata item : items) {
            client.resource(item).createOr(existing -> existing.update());
        }
    }
}
