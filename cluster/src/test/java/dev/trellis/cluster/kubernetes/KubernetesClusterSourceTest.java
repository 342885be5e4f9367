package dev.trellis.cluster.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.policy.PolicyCrds;
import dev.trellis.cluster.policy.PolicyResources;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class KubernetesClusterSourceTest {

    KubernetesClient client;

    @Test
    void snapshotsFollowTheApiServer() {
        try (KubernetesClusterSource source = KubernetesClusterSource.start(client, Duration.ofMillis(20))) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(source::synced);
            client.services().inNamespace("emojivoto").resource(new ServiceBuilder().withNewMetadata().withNamespace("emojivoto").withName("web-svc").endMetadata()
                    .withNewSpec().withClusterIP("10.96.0.10").endSpec().build()).create();
            client.pods().inNamespace("emojivoto").resource(new PodBuilder().withNewMetadata().withNamespace("emojivoto").withName("web-0").endMetadata()
                    .withNewSpec().withServiceAccountName("web").endSpec().withNewStatus().withPodIP("10.0.0.7").endStatus().build()).create();
            client.genericKubernetesResources(context("Server")).inNamespace("emojivoto").resource(new GenericKubernetesResourceBuilder()
                    .withApiVersion(PolicyResources.API_VERSION).withKind("Server")
                    .withNewMetadata().withNamespace("emojivoto").withName("web-http").endMetadata()
                    .addToAdditionalProperties("spec", Map.of("podSelector", Map.of("matchLabels", Map.of("app", "web")), "port", 8080))
                    .build()).create();

            Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                var snapshot = source.current();
                assertThat(snapshot.serviceByClusterIp("10.96.0.10")).isPresent();
                assertThat(snapshot.podByIp("10.0.0.7")).isPresent();
                assertThat(snapshot.servers()).extracting(PolicyResources.Server::id).containsExactly(new ObjectKey("emojivoto", "web-http"));
            });
            assertThat(source.problem()).isEmpty();

            client.pods().inNamespace("emojivoto").withName("web-0").delete();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> source.current().podByIp("10.0.0.7").isEmpty());
        }
    }

    @Test
    void theCrdsDefineEveryKindWithTheNamesTheSourceWatches() {
        List<CustomResourceDefinition> definitions = PolicyCrds.all();
        assertThat(definitions).extracting(d -> d.getSpec().getNames().getKind()).containsExactlyElementsOf(PolicyResources.KINDS);
        for (CustomResourceDefinition definition : definitions) {
            assertThat(definition.getSpec().getGroup()).isEqualTo(PolicyResources.GROUP);
            assertThat(definition.getSpec().getNames().getPlural()).isEqualTo(KubernetesClusterSource.plural(definition.getSpec().getNames().getKind()));
            assertThat(definition.getSpec().getVersions()).singleElement().satisfies(v -> assertThat(v.getName()).isEqualTo(PolicyResources.VERSION));
        }
        assertThat(WatchedResource.POLICY.resources()).containsExactlyElementsOf(definitions.stream().map(d -> d.getSpec().getNames().getPlural()).toList());
    }

    private static ResourceDefinitionContext context(String kind) {
        return new ResourceDefinitionContext.Builder().withGroup(PolicyResources.GROUP).withVersion(PolicyResources.VERSION)
                .withKind(kind).withPlural(KubernetesClusterSource.plural(kind)).withNamespaced(true).build();
    }
}
