package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.install.check.CheckOptions;
import dev.trellis.install.check.CheckReport;
import dev.trellis.install.check.ClusterCheck;
import dev.trellis.install.check.Outcome;
import dev.trellis.testing.cluster.ImageCatalog;
import dev.trellis.testing.cluster.RunningPod;
import dev.trellis.testing.cluster.SimulatedCluster;
import dev.trellis.tls.client.IdentityClient;
import dev.trellis.tls.context.Credentials;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.pki.TrustAnchors;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Node mode (issue 23) on a simulated cluster of two nodes: `trellis install --node-mode` puts
 * a node agent and a node proxy on each; the injector gives node-mode pods proxy-init only;
 * node-mode pods on both nodes and a sidecar pod beside them call each other through their
 * Services, each caller seen by the callee as its own identity, both ways between the modes;
 * the node proxy of one node cannot obtain an identity whose pods run only on the other;
 * `trellis check` sees a node proxy per node and every node-mode pod served.
 */
class NodeModeOnKubernetesTest {

    private static final String NODES_NS = "shop";
    private static final String SIDECAR_NS = "classic";
    private static final List<String> NODES = List.of("node-a", "node-b");

    @TempDir
    Path dir;

    @Test
    void nodeModePodsOnTwoNodesAndSidecarsCallEachOtherAsThemselves() throws Exception {
        assumeTrue(SimulatedCluster.available(), "needs root, ip, setpriv and mount (CI runs as root)");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/iptables")), "needs iptables (.ci/run installs it)");
        ImageCatalog images = Distribution.images().with(SampleApp.image());
        try (SimulatedCluster cluster = SimulatedCluster.start(dir.resolve("cluster"), images)) {
            KubernetesClient client = cluster.client();
            var options = SampleApp.installOptions(dir, b -> b.nodeMode(true));
            SampleApp.Installed installed = SampleApp.installControlPlane(cluster, options, NODES);

            client.resource(new NamespaceBuilder().withNewMetadata().withName(NODES_NS).addToLabels("trellis.dev/inject", "enabled")
                    .addToAnnotations("config.trellis.dev/proxy-mode", "node").endMetadata().build()).create();
            client.resource(new NamespaceBuilder().withNewMetadata().withName(SIDECAR_NS).addToLabels("trellis.dev/inject", "enabled").endMetadata().build())
                    .create();
            for (String account : List.of("web", "emoji")) {
                client.resource(new ServiceAccountBuilder().withNewMetadata().withName(account).withNamespace(NODES_NS).endMetadata().build()).create();
            }
            client.resource(new ServiceAccountBuilder().withNewMetadata().withName("vote").withNamespace(SIDECAR_NS).endMetadata().build()).create();
            service(client, NODES_NS, "emoji", "10.96.80.10");
            service(client, NODES_NS, "web", "10.96.80.11");
            service(client, SIDECAR_NS, "vote", "10.96.80.12");

            // emoji only on node-b, web only on node-a, and a sidecar pod on node-a beside web.
            // emoji admits plaintext only on its probe paths, as in sidecar mode.
            RunningPod emoji = cluster.deploy(on(SampleApp.deployment(NODES_NS, "emoji", Map.of("config.trellis.dev/default-inbound-policy", "all-authenticated")),
                    "node-b")).getFirst();
            RunningPod web = cluster.deploy(on(SampleApp.deployment(NODES_NS, "web", Map.of()), "node-a")).getFirst();
            RunningPod vote = cluster.deploy(on(SampleApp.deployment(SIDECAR_NS, "vote", Map.of()), "node-a")).getFirst();
            for (RunningPod pod : List.of(emoji, web, vote)) {
                try {
                    pod.awaitReady(Duration.ofSeconds(120));
                } catch (AssertionError notReady) {
                    StringBuilder logs = new StringBuilder(notReady.getMessage());
                    logs.append("\n--- identity\n").append(installed.first("trellis-identity").logTail("identity"));
                    for (String set : List.of("trellis-node-agent", "trellis-node-proxy")) {
                        for (RunningPod node : installed.pods().get(set)) {
                            logs.append("\n--- ").append(node.name()).append('\n').append(node.logTail(set.substring("trellis-".length())));
                        }
                    }
                    throw new AssertionError(logs.toString(), notReady);
                }
            }

            // The injector gave node-mode pods proxy-init and no sidecar; the sidecar pod its proxy.
            Pod stored = client.pods().inNamespace(NODES_NS).withName(emoji.name()).get();
            assertThat(stored.getSpec().getInitContainers()).extracting(Container::getName).containsExactly("trellis-init");
            assertThat(stored.getSpec().getContainers()).extracting(Container::getName).containsExactly("app");
            assertThat(client.pods().inNamespace(SIDECAR_NS).withName(vote.name()).get().getSpec().getInitContainers())
                    .extracting(Container::getName).contains("trellis-proxy");
            assertThat(emoji.exec("iptables-save", "-t", "nat")).contains("-m mark --mark 0x539 -j RETURN");

            // Across nodes, node mode to node mode: emoji sees web's own identity.
            awaitHello(web, "http://emoji." + NODES_NS + ".svc.cluster.local/", emoji, "spiffe://cluster.local/ns/" + NODES_NS + "/sa/web");
            // Sidecar to node mode, and node mode to sidecar: each side as itself.
            awaitHello(vote, "http://emoji." + NODES_NS + ".svc.cluster.local/", emoji, "spiffe://cluster.local/ns/" + SIDECAR_NS + "/sa/vote");
            awaitHello(web, "http://vote." + SIDECAR_NS + ".svc.cluster.local/", vote, "spiffe://cluster.local/ns/" + NODES_NS + "/sa/web");
            // Node mode to node mode on one node: web calls itself through its Service.
            awaitHello(emoji, "http://web." + NODES_NS + ".svc.cluster.local/", web, "spiffe://cluster.local/ns/" + NODES_NS + "/sa/emoji");

            // Policy, as for sidecars: a pod outside the mesh reaches emoji only on its probe paths, and web as web's default allows.
            client.resource(new NamespaceBuilder().withNewMetadata().withName("plain").endMetadata().build()).create();
            RunningPod loner = cluster.run(new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName("loner").withNamespace("plain")
                    .addToLabels("app", "loner").endMetadata().withSpec(SampleApp.spec("default", "serve")).build());
            loner.awaitReady(Duration.ofSeconds(60));
            assertThat(SampleApp.call(loner, "http://" + emoji.address() + ":8080/")).contains("call 0: 403").contains("policy denied");
            assertThat(SampleApp.call(loner, "http://" + emoji.address() + ":8080/ready")).startsWith("call 0: 200");
            assertThat(SampleApp.call(loner, "http://" + web.address() + ":8080/")).isEqualTo("call 0: 200 hello from " + web.name() + "\n");
            // Laundering: the node proxy's listeners in web's pod are not a way to call as web. Its outbound port is redirected to
            // its inbound side, which forwards to no port of its own; its tap port answers only viz's identity over mTLS.
            assertThat(SampleApp.call(loner, "http://" + web.address() + ":4140/")).doesNotContain("call 0: 200");
            assertThat(SampleApp.call(loner, "http://" + web.address() + ":4190/")).doesNotContain("call 0: 200");

            // The node proxy of node-a, with its own bound token: web's identity (a pod on node-a) is granted, emoji's (only on node-b) refused.
            RunningPod identity = installed.first("trellis-identity");
            Path token = dir.resolve("node-a.token");
            Files.writeString(token, cluster.mintToken("trellis", ControlPlaneComponent.NODE_PROXY.serviceAccount(), ControlPlaneComponent.IDENTITY_TOKEN_AUDIENCE,
                    "trellis-node-proxy-node-a"));
            WorkloadIdentity webId = new WorkloadIdentity("cluster.local", NODES_NS, "web");
            WorkloadIdentity emojiId = new WorkloadIdentity("cluster.local", NODES_NS, "emoji");
            assertThat(certify(identity, webId, token).identity()).isEqualTo(webId);
            assertThatThrownBy(() -> certify(identity, emojiId, token)).hasMessageContaining("node-a").hasMessageContaining("sa/emoji");
            // A token of the node-proxy account bound to no node proxy's pod (web's pod here) gets nothing of others.
            Files.writeString(token, cluster.mintToken("trellis", ControlPlaneComponent.NODE_PROXY.serviceAccount(), ControlPlaneComponent.IDENTITY_TOKEN_AUDIENCE,
                    web.name()));
            assertThatThrownBy(() -> certify(identity, webId, token)).hasMessageContaining("does not exist");

            // check: an agent and a node proxy ready on each node, every node-mode pod's node served.
            CheckReport report = ClusterCheck.run(client, CheckOptions.defaults(), Clock.systemUTC());
            CheckReport.Category nodeMode = report.categories().stream().filter(c -> c.name().equals("node-mode")).findFirst().orElseThrow();
            assertThat(nodeMode.results()).as(report.text()).allSatisfy(r -> assertThat(r.outcome()).isEqualTo(Outcome.OK));
            assertThat(report.text()).contains("a node proxy runs ready on every node (2)").contains("(2 pods)");
        }
    }

    private static void awaitHello(RunningPod from, String url, RunningPod to, String callerIdentity) {
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1)).untilAsserted(() ->
                assertThat(SampleApp.call(from, url)).isEqualTo("call 0: 200 hello from " + to.name() + " to " + callerIdentity + "\n"));
    }

    /** One certificate request to the installed identity service (its pod, port 8080), for {@code workload}, with {@code token}. */
    private Credentials certify(RunningPod identity, WorkloadIdentity workload, Path token) throws Exception {
        TrustAnchors anchors = TrustAnchors.read(dir.resolve("pki/trust-anchor.pem"));
        CredentialsStore store = new CredentialsStore(workload, anchors, Clock.systemUTC());
        try (IdentityClient client = new IdentityClient(IdentityClient.Config.defaults(workload, new HostPort(identity.address(), 8080),
                ControlPlaneComponent.IDENTITY.identity("cluster.local"), token), store, Clock.systemUTC())) {
            return client.certifyOnce();
        }
    }

    private static Deployment on(Deployment deployment, String node) {
        deployment.getSpec().getTemplate().getSpec().setNodeName(node);
        return deployment;
    }

    private static void service(KubernetesClient client, String namespace, String name, String clusterIp) {
        client.resource(new ServiceBuilder().withNewMetadata().withName(name).withNamespace(namespace).endMetadata()
                .withNewSpec().withClusterIP(clusterIp).addToSelector("app", name)
                .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString("http")).endPort().endSpec().build()).create();
    }
}
