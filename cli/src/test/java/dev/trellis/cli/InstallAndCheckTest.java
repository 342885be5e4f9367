package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's path, with the real commands: {@code identity bootstrap}, {@code install
 * --crds} and {@code install} applied to an API server (kubernetes-server-mock, CRUD mode),
 * then {@code check} through a kubeconfig, as text and JSON, waiting, and failing.
 */
class InstallAndCheckTest {

    @TempDir
    Path dir;

    private KubernetesMockServer server;
    private KubernetesClient client;
    private Path kubeconfig;

    private record Run(int exit, String out, String err) {}

    @BeforeEach
    void apiServer() throws Exception {
        // CRUD mode with expectations first, as @EnableKubernetesMockClient(crud = true) builds it (one map for both).
        var expectations = new java.util.HashMap<io.fabric8.mockwebserver.ServerRequest, java.util.Queue<io.fabric8.mockwebserver.ServerResponse>>();
        server = new KubernetesMockServer(new io.fabric8.mockwebserver.Context(), new io.fabric8.mockwebserver.MockWebServer(), expectations,
                new io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher(expectations), true);
        server.init();
        server.setVersionInfo(new VersionInfo.Builder().withMajor("1").withMinor("31").withGitVersion("v1.31.2").build());
        client = server.createClient();
        kubeconfig = dir.resolve("kubeconfig");
        Files.writeString(kubeconfig, new KubernetesSerialization().asYaml(new ConfigBuilder()
                .withApiVersion("v1").withKind("Config").withCurrentContext("mock")
                .addNewCluster().withName("mock").withNewCluster().withServer(client.getMasterUrl().toString()).withInsecureSkipTlsVerify(true).endCluster().endCluster()
                .addNewUser().withName("admin").withNewUser().withToken("admin-token").endUser().endUser()
                .addNewContext().withName("mock").withNewContext().withCluster("mock").withUser("admin").endContext().endContext()
                .build()));
    }

    @AfterEach
    void stop() {
        client.close();
        server.destroy();
    }

    @Test
    void bootstrapInstallApplyCheckThenBreakIt() throws Exception {
        Path pki = dir.resolve("pki");
        assertThat(trellis("identity", "bootstrap", "--out", pki.toString()).exit()).isZero();
        Run crds = trellis("install", "--crds");
        Run controlPlane = trellis("install", "--identity-dir", pki.toString());
        assertThat(crds.exit()).isZero();
        assertThat(controlPlane.exit()).as(controlPlane.err()).isZero();
        apply(crds.out());
        apply(controlPlane.out());

        Run notYet = trellis("check", "--kubeconfig", kubeconfig.toString());
        assertThat(notYet.exit()).isEqualTo(1);
        assertThat(notYet.out()).contains("× control plane Deployments are available").contains("trellis-identity: 0 of 1 replicas available");

        CompletableFuture<Void> rollout = CompletableFuture.runAsync(() -> {
            try {
                TimeUnit.SECONDS.sleep(3);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            markAvailable();
        });
        Run waited = trellis("check", "--kubeconfig", kubeconfig.toString(), "--wait", "60s");
        rollout.join();
        assertThat(waited.exit()).as(waited.out()).isZero();
        assertThat(waited.err()).contains("check: waiting for: control plane Deployments are available");
        assertThat(waited.out().lines().filter(l -> l.startsWith("√") || l.startsWith("‼") || l.startsWith("×")))
                .allMatch(l -> l.startsWith("√")).hasSizeGreaterThan(10);
        assertThat(waited.out()).endsWith("Status check results are √\n");

        Run json = trellis("check", "--kubeconfig", kubeconfig.toString(), "-o", "json");
        assertThat(json.exit()).isZero();
        assertThat(new KubernetesSerialization().unmarshal(json.out(), java.util.Map.class)).containsEntry("success", true);

        client.rbac().clusterRoles().withName("trellis-trellis-identity").delete();
        Run broken = trellis("check", "--kubeconfig", kubeconfig.toString());
        assertThat(broken.exit()).isEqualTo(1);
        assertThat(broken.out()).contains("× control plane ClusterRoles exist").contains("missing: ClusterRole trellis-trellis-identity")
                .contains("see docs/install.md#check-control-plane for hints");

        Run uninstall = trellis("uninstall");
        assertThat(uninstall.exit()).isZero();
        for (HasMetadata object : parse(uninstall.out())) {
            client.resource(object).delete();
        }
        assertThat(client.apps().deployments().inNamespace("trellis").list().getItems()).isEmpty();
        assertThat(client.namespaces().withName("trellis").get()).isNull();
    }

    @Test
    void preInstallChecksAskTheApiServerWhatTheCallerMayCreate() {
        server.expect().post().withPath("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
                .andReply(201, request -> {
                    String body = request.getBody().readUtf8();
                    boolean webhooks = body.contains("mutatingwebhookconfigurations");
                    return "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\",\"status\":{\"allowed\":" + !webhooks
                            + (webhooks ? ",\"reason\":\"no RBAC policy matched\"" : "") + "}}";
                }).always();
        Run pre = trellis("check", "--pre", "--kubeconfig", kubeconfig.toString());
        assertThat(pre.out()).contains("√ control plane namespace does not already exist")
                .contains("√ can create namespaced resources in trellis")
                .contains("× can create non-namespaced resources")
                .contains("mutatingwebhookconfigurations.admissionregistration.k8s.io (no RBAC policy matched)");
        assertThat(pre.exit()).isEqualTo(1);

        // An API server whose clock is ten minutes ahead (its /version answer replaced, Date header and all).
        server.clearExpectations();
        String tenMinutesAhead = java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.format(java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).plusMinutes(10));
        server.expect().get().withPath("/version").andReturn(200, new VersionInfo.Builder().withMajor("1").withMinor("31").withGitVersion("v1.31.2").build())
                .withHeader("Date", tenMinutesAhead).always();
        Run skewed = trellis("check", "--pre", "--kubeconfig", kubeconfig.toString());
        assertThat(skewed.out()).contains("× this machine's clock is within 5 minutes of the API server's").containsPattern("the clocks differ by (59|60)\\d s");
    }

    @Test
    void everyInstallationCommandExplainsItself() {
        for (String command : List.of("install", "uninstall", "check")) {
            Run help = trellis(command, "--help");
            assertThat(help.exit()).as(command + ": " + help.err()).isZero();
            assertThat(help.out()).contains("Usage: trellis " + command);
        }
        assertThat(trellis("install", "--help").out()).contains("--version=TAG").contains("--identity-external-issuer");
    }

    @Test
    void installRefusesAMissingOrMismatchedPki() throws Exception {
        Run none = trellis("install");
        assertThat(none.exit()).isEqualTo(1);
        assertThat(none.err()).contains("no mesh PKI given: pass --identity-dir DIR");
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        trellis("identity", "bootstrap", "--out", a.toString());
        trellis("identity", "bootstrap", "--out", b.toString());
        Run mixed = trellis("install", "--identity-dir", a.toString(), "--identity-issuer-certificate-file", b.resolve("issuer.pem").toString(),
                "--identity-issuer-key-file", b.resolve("issuer-key.pem").toString());
        assertThat(mixed.exit()).isEqualTo(1);
        assertThat(mixed.err()).contains("the issuer does not chain to the trust anchors");
        Run external = trellis("install", "--identity-dir", a.toString(), "--identity-external-issuer");
        assertThat(external.exit()).isZero();
        assertThat(parse(external.out())).noneMatch(o -> o.getMetadata().getName().equals("trellis-identity-issuer"));
    }

    private void markAvailable() {
        for (Deployment deployment : client.apps().deployments().inNamespace("trellis").list().getItems()) {
            deployment.setStatus(new DeploymentStatusBuilder().withReplicas(deployment.getSpec().getReplicas())
                    .withAvailableReplicas(deployment.getSpec().getReplicas()).build());
            client.resource(deployment).update();
        }
    }

    private void apply(String stream) {
        for (HasMetadata object : parse(stream)) {
            client.resource(object).create();
        }
    }

    private List<HasMetadata> parse(String stream) {
        return client.load(new ByteArrayInputStream(stream.getBytes(StandardCharsets.UTF_8))).items();
    }

    private Run trellis(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }
}
