package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.TapClient;
import dev.trellis.viz.Viz;
import dev.trellis.viz.web.DashboardConfig;
import dev.trellis.viz.web.DashboardServer;
import dev.trellis.viz.web.KubernetesViewers;
import dev.trellis.viz.web.LoginCodes;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code trellis viz dashboard --kubernetes} against a mock API server: it finds the running
 * viz pod, opens a forward to its dashboard port (here straight to a real dashboard: fabric8's
 * port-forward is the one part left out), trades the kubeconfig's own token for a link — which
 * logs in as the user the API server's TokenReview names — and refuses a kubeconfig without a
 * token, or a token the API server rejects, saying why.
 */
@EnableKubernetesMockClient(crud = true)
class VizDashboardOnKubernetesTest {

    KubernetesMockServer server;
    KubernetesClient client;

    @TempDir
    Path dir;

    private Path kubeconfig(String token) throws Exception {
        Path file = dir.resolve("kubeconfig-" + (token == null ? "certificate" : "token"));
        String user = token == null ? "    client-certificate-data: \"\"\n" : "    token: " + token + "\n";
        Files.writeString(file, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster:
                    server: %s
                    insecure-skip-tls-verify: true
                users:
                - name: alice
                  user:
                %s
                contexts:
                - name: mock
                  context: {cluster: mock, user: alice}
                current-context: mock
                """.formatted(client.getMasterUrl().toString(), user));
        return file;
    }

    private String[] run(VizCommand.Dashboard command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(command).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true)).execute(args);
        return new String[] {String.valueOf(exit), out.toString(), err.toString()};
    }

    @Test
    void theKubeconfigsOwnTokenBuysALinkForItsUserThroughTheForward() throws Exception {
        client.pods().inNamespace("trellis").resource(new PodBuilder().withNewMetadata().withNamespace("trellis").withName("trellis-viz-6d9f")
                .withLabels(dev.trellis.install.ControlPlane.vizPodSelector()).endMetadata()
                .withNewSpec().addNewContainer().withName("viz").withImage("controller").endContainer().endSpec()
                .withNewStatus().withPhase("Running").endStatus().build()).create();
        Files.createDirectories(dir.resolve("state"));
        try (LocalDirectorySource cluster = LocalDirectorySource.start(dir.resolve("state"), Duration.ofMillis(300))) {
            Viz viz = Viz.start(cluster, (Viz.Scraper) (proxy, identity) -> CompletableFuture.failedFuture(new IllegalStateException("none")),
                    new TapClient(io.netty.handler.ssl.SslContextBuilder.forClient().build()), "cluster.local", Duration.ofSeconds(5), Clock.systemUTC());
            LoginCodes codes = new LoginCodes(Duration.ofMinutes(5), Clock.systemUTC());
            try (DashboardServer dashboard = DashboardServer.start(DashboardConfig.builder().build(), viz, codes, new KubernetesViewers(client, Clock.systemUTC()),
                    ControlPlaneStatus.NONE, "cluster.local", Clock.systemUTC())) {
                AtomicReference<String> forwarded = new AtomicReference<>();
                VizCommand.Dashboard command = new VizCommand.Dashboard();
                command.forwarder = (c, namespace, pod, port, local) -> {
                    forwarded.set(namespace + "/" + pod + ":" + port);
                    return new VizCommand.Dashboard.Forward() {
                        @Override
                        public int localPort() {
                            return dashboard.address().getPort();
                        }

                        @Override
                        public void close() {
                        }
                    };
                };
                command.hold = () -> { };

                server.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews").andReturn(201, new TokenReviewBuilder().withNewStatus()
                        .withAuthenticated(true).withNewUser().withUsername("alice@example.org").withGroups("dev").endUser().endStatus().build()).once();
                String[] ran = run(command, "--kubernetes", "--kubeconfig", kubeconfig("alice-token").toString(), "--show", "url");
                assertThat(ran[0]).as(ran[2]).isEqualTo("0");
                assertThat(forwarded.get()).isEqualTo("trellis/trellis-viz-6d9f:8085");
                String link = ran[1].lines().filter(l -> l.contains("/login?code=")).findFirst().orElseThrow();
                assertThat(link).startsWith("http://127.0.0.1:" + dashboard.address().getPort() + "/login?code=");
                assertThat(server.getLastRequest().getBody().readUtf8()).as("the kubeconfig's own token, to the TokenReview").contains("\"token\":\"alice-token\"");

                HttpClient http = HttpClient.newHttpClient();
                HttpResponse<String> login = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + dashboard.address().getPort() + "/login"))
                        .header("Origin", "http://127.0.0.1:" + dashboard.address().getPort())
                        .POST(HttpRequest.BodyPublishers.ofString("code=" + link.substring(link.indexOf("code=") + 5))).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(login.body()).contains("\"user\":\"alice@example.org\"");

                server.expect().post().withPath("/apis/authentication.k8s.io/v1/tokenreviews").andReturn(201, new TokenReviewBuilder().withNewStatus()
                        .withAuthenticated(false).withError("token expired").endStatus().build()).once();
                VizCommand.Dashboard again = new VizCommand.Dashboard();
                again.forwarder = command.forwarder;
                again.hold = () -> { };
                String[] refused = run(again, "--kubernetes", "--kubeconfig", kubeconfig("old-token").toString(), "--show", "url");
                assertThat(refused[0]).isNotEqualTo("0");
                assertThat(refused[2]).contains("the dashboard refused your token (401)", "token expired");
            } finally {
                viz.close();
            }
        }
    }

    @Test
    void aKubeconfigWithoutATokenIsToldWhy() throws Exception {
        String[] ran = run(new VizCommand.Dashboard(), "--kubernetes", "--kubeconfig", kubeconfig(null).toString(), "--show", "url");
        assertThat(ran[0]).isNotEqualTo("0");
        assertThat(ran[2]).contains("your kubeconfig gives no bearer token");
    }
}
