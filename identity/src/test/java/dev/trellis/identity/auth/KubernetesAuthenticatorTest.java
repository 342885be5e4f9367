package dev.trellis.identity.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.core.identity.WorkloadIdentity;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class KubernetesAuthenticatorTest {

    private static final String PATH = "/apis/authentication.k8s.io/v1/tokenreviews";

    KubernetesMockServer server;
    KubernetesClient client;

    @Test
    void passesAReviewAuthenticatedForOurAudience() throws Exception {
        server.expect().post().withPath(PATH).andReturn(201, answer(true, "system:serviceaccount:emojivoto:web", "identity.trellis.dev")).once();

        WorkloadIdentity identity = new KubernetesAuthenticator(client).authenticate("sa-token", "cluster.local");

        assertThat(identity).isEqualTo(new WorkloadIdentity("cluster.local", "emojivoto", "web"));
        String sent = server.getLastRequest().getBody().readUtf8();
        assertThat(sent).contains("\"token\":\"sa-token\"").contains("\"audiences\":[\"identity.trellis.dev\"]");
    }

    @Test
    void refusesAnUnauthenticatedReview() {
        TokenReview denied = new TokenReviewBuilder().withNewStatus().withAuthenticated(false).withError("token has expired").endStatus().build();
        server.expect().post().withPath(PATH).andReturn(201, denied).once();

        assertThatThrownBy(() -> new KubernetesAuthenticator(client).authenticate("sa-token", "cluster.local"))
                .isInstanceOfSatisfying(AuthenticationException.class, e -> assertThat(e.kind()).isEqualTo(AuthenticationException.Kind.UNAUTHENTICATED))
                .hasMessage("kubernetes: token not authenticated: token has expired");
    }

    @Test
    void refusesAReviewThatLacksOurAudience() {
        server.expect().post().withPath(PATH).andReturn(201, answer(true, "system:serviceaccount:emojivoto:web", "https://kubernetes.default.svc")).once();

        assertThatThrownBy(() -> new KubernetesAuthenticator(client).authenticate("sa-token", "cluster.local"))
                .isInstanceOfSatisfying(AuthenticationException.class, e -> assertThat(e.kind()).isEqualTo(AuthenticationException.Kind.UNAUTHENTICATED))
                .hasMessageContaining("not bound to the audience identity.trellis.dev");
        assertThat(server.getRequestCount()).as("no second, audience-less review").isEqualTo(1);
    }

    @Test
    void refusesUsersThatAreNotServiceAccounts() {
        server.expect().post().withPath(PATH).andReturn(201, answer(true, "alice@example.org", "identity.trellis.dev")).once();

        assertThatThrownBy(() -> new KubernetesAuthenticator(client).authenticate("sa-token", "cluster.local"))
                .hasMessageContaining("not a service account");
    }

    @Test
    void anApiServerErrorIsUnavailableNotAnIdentity() {
        server.expect().post().withPath(PATH).andReturn(500, "etcd is on fire").once();

        assertThatThrownBy(() -> new KubernetesAuthenticator(client).authenticate("sa-token", "cluster.local"))
                .isInstanceOfSatisfying(AuthenticationException.class, e -> assertThat(e.kind()).isEqualTo(AuthenticationException.Kind.UNAVAILABLE))
                .hasMessageContaining("TokenReview failed");
    }

    @Test
    void anUnreachableApiServerIsUnavailable() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        try (KubernetesClient unreachable = new KubernetesClientBuilder().withConfig(new ConfigBuilder()
                .withMasterUrl("http://127.0.0.1:" + closedPort)
                .withConnectionTimeout(1000).withRequestTimeout(1000)
                .withRequestRetryBackoffLimit(0)
                .build()).build()) {
            assertThatThrownBy(() -> new KubernetesAuthenticator(unreachable).authenticate("sa-token", "cluster.local"))
                    .isInstanceOfSatisfying(AuthenticationException.class, e -> assertThat(e.kind()).isEqualTo(AuthenticationException.Kind.UNAVAILABLE))
                    .hasMessageStartingWith("kubernetes: TokenReview failed");
        }
    }

    @Test
    void refusesOversizedTokensWithoutAskingTheApiServer() {
        assertThatThrownBy(() -> new KubernetesAuthenticator(client).authenticate("x".repeat(KubernetesAuthenticator.MAX_TOKEN_LENGTH + 1), "cluster.local"))
                .hasMessageContaining("over the 16384-character limit");
        assertThat(server.getRequestCount()).isZero();
    }

    private static TokenReview answer(boolean authenticated, String user, String audience) {
        return new TokenReviewBuilder()
                .withNewStatus()
                .withAuthenticated(authenticated)
                .withAudiences(audience)
                .withNewUser().withUsername(user).endUser()
                .endStatus()
                .build();
    }
}
