package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trellis.cluster.kubernetes.KubernetesClusterSource;
import dev.trellis.cluster.kubernetes.WatchedResource;
import dev.trellis.testing.cluster.SimulatedCluster;
import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.TapClient;
import dev.trellis.viz.Viz;
import dev.trellis.viz.web.DashboardConfig;
import dev.trellis.viz.web.DashboardServer;
import dev.trellis.viz.web.KubernetesViewers;
import dev.trellis.viz.web.LoginCodes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard's login on Kubernetes, against the simulated API server: a user's token that the
 * API server's TokenReview accepts buys a one-time link for that user, one it rejects buys
 * nothing; the session's rights are the user's own, asked with SubjectAccessReviews, and an
 * API server that answers none (the simulated one evaluates no RBAC) shows nothing — rights
 * fail closed.
 */
class DashboardLoginOnKubernetesTest {

    @TempDir
    Path dir;

    @Test
    void aTokenTheApiServerAcceptsLogsThatUserInAndOneItRejectsDoesNot() throws Exception {
        boolean ci = "true".equals(System.getenv("CI"));
        if (!ci) {
            assumeTrue(SimulatedCluster.available(), "needs root, ip, setpriv and mount (CI runs as root)");
        }
        try (SimulatedCluster cluster = SimulatedCluster.start(dir.resolve("cluster"), Distribution.images());
             KubernetesClusterSource source = KubernetesClusterSource.start(cluster.client(), Duration.ofMillis(50), WatchedResource.VIZ)) {
            Viz viz = Viz.start(source, (Viz.Scraper) (proxy, identity) -> CompletableFuture.failedFuture(new IllegalStateException("no proxies here")),
                    new TapClient(io.netty.handler.ssl.SslContextBuilder.forClient().build()), "cluster.local", Duration.ofSeconds(5), Clock.systemUTC());
            LoginCodes codes = new LoginCodes(Duration.ofMinutes(5), Clock.systemUTC());
            try (DashboardServer server = DashboardServer.start(DashboardConfig.builder().build(), viz, codes,
                    new KubernetesViewers(cluster.client(), Clock.systemUTC()), ControlPlaneStatus.NONE, "cluster.local", Clock.systemUTC())) {
                HttpClient http = HttpClient.newHttpClient();
                URI base = server.url();

                HttpResponse<String> rejected = tokenLogin(http, base, "not-a-token-the-api-server-knows");
                assertThat(rejected.statusCode()).isEqualTo(401);
                assertThat(rejected.body()).contains("did not authenticate that token (unknown token)");

                String token = cluster.mintToken("team-a", "alice", "https://kubernetes.default.svc");
                HttpResponse<String> accepted = tokenLogin(http, base, token);
                assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(200);
                assertThat(accepted.body()).contains("\"user\":\"system:serviceaccount:team-a:alice\"");
                String code = accepted.body().replaceAll(".*\"path\":\"/login\\?code=([^\"]+)\".*", "$1");

                HttpResponse<String> login = http.send(HttpRequest.newBuilder(base.resolve("/login")).header("Origin", "http://127.0.0.1:" + base.getPort())
                        .POST(HttpRequest.BodyPublishers.ofString("code=" + code)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(login.statusCode()).isEqualTo(200);
                String cookie = login.headers().firstValue("Set-Cookie").orElseThrow().replaceAll(";.*", "");
                HttpResponse<String> session = http.send(HttpRequest.newBuilder(base.resolve("/api/session")).header("Cookie", cookie).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(session.body()).contains("system:serviceaccount:team-a:alice", "system:serviceaccounts:team-a");
                HttpResponse<String> workloads = http.send(HttpRequest.newBuilder(base.resolve("/api/workloads?namespace=team-a")).header("Cookie", cookie).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(workloads.statusCode()).as("no SubjectAccessReview allowed it").isEqualTo(403);
            } finally {
                viz.close();
            }
        }
    }

    private static HttpResponse<String> tokenLogin(HttpClient http, URI base, String token) throws Exception {
        return http.send(HttpRequest.newBuilder(base.resolve("/login/token")).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }
}
