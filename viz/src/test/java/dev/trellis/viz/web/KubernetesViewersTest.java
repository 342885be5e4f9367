package dev.trellis.viz.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Kubernetes users as viewers: the TokenReview says who, SubjectAccessReviews say where, against a mock API server. */
@EnableKubernetesMockClient
class KubernetesViewersTest {

    private static final String TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews";
    private static final String ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

    KubernetesMockServer server;
    KubernetesClient client;

    private final DashboardTest.MutableClock clock = new DashboardTest.MutableClock(Instant.parse("2026-12-06T10:00:00Z"));

    private void authenticated(String user, String... groups) {
        server.expect().post().withPath(TOKEN_REVIEWS).andReturn(201, new TokenReviewBuilder().withNewStatus().withAuthenticated(true)
                .withNewUser().withUsername(user).withGroups(groups).withUid("uid-1").endUser().endStatus().build()).once();
    }

    private void access(boolean allowed) {
        server.expect().post().withPath(ACCESS_REVIEWS).andReturn(201, new SubjectAccessReviewBuilder().withNewSpec().endSpec()
                .withNewStatus().withAllowed(allowed).endStatus().build()).once();
    }

    @Test
    void aTokenTheApiServerAcceptsIsThatUserWithThoseGroups() throws Exception {
        authenticated("alice@example.org", "dev", "system:authenticated");
        Viewer viewer = new KubernetesViewers(client, clock).authenticate("alice-token");
        assertThat(viewer.user()).isEqualTo("alice@example.org");
        assertThat(viewer.groups()).containsExactly("dev", "system:authenticated");
        assertThat(server.getLastRequest().getBody().readUtf8()).contains("\"token\":\"alice-token\"");
    }

    @Test
    void aTokenTheApiServerRejectsLogsNobodyIn() {
        server.expect().post().withPath(TOKEN_REVIEWS).andReturn(201, new TokenReviewBuilder().withNewStatus().withAuthenticated(false)
                .withError("token has expired").endStatus().build()).once();
        assertThatThrownBy(() -> new KubernetesViewers(client, clock).authenticate("old-token"))
                .hasMessage("dashboard: the API server did not authenticate that token (token has expired)");
        assertThatThrownBy(() -> new KubernetesViewers(client, clock).authenticate("x".repeat(KubernetesViewers.MAX_TOKEN_LENGTH + 1)))
                .hasMessageContaining("over 16384 characters");
    }

    @Test
    void rightsAreTheUsersOwnAskedPerNamespaceAndKeptAWhile() throws Exception {
        authenticated("bob", "dev");
        Viewer viewer = new KubernetesViewers(client, clock).authenticate("bob-token");
        access(true);
        assertThat(viewer.access().mayView("shop")).isTrue();
        String asked = server.getLastRequest().getBody().readUtf8();
        assertThat(asked).contains("\"user\":\"bob\"", "\"groups\":[\"dev\"]", "\"namespace\":\"shop\"", "\"resource\":\"pods\"", "\"verb\":\"list\"");
        access(false);
        assertThat(viewer.access().mayTap("shop")).isFalse();
        assertThat(server.getLastRequest().getBody().readUtf8()).contains("\"group\":\"tap.trellis.dev\"", "\"verb\":\"watch\"");

        int requests = server.getRequestCount();
        assertThat(viewer.access().mayView("shop")).as("kept").isTrue();
        assertThat(server.getRequestCount()).isEqualTo(requests);
        clock.advance(KubernetesViewers.RIGHTS_TTL.plus(Duration.ofSeconds(1)));
        access(false);
        assertThat(viewer.access().mayView("shop")).as("asked again: revoked").isFalse();
    }

    @Test
    void aReviewThatFailsDenies() throws Exception {
        authenticated("carol");
        Viewer viewer = new KubernetesViewers(client, clock).authenticate("carol-token");
        server.expect().post().withPath(ACCESS_REVIEWS).andReturn(500, "boom").once();
        assertThat(viewer.access().mayView("shop")).isFalse();
    }
}
