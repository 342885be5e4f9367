package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.install.ControlPlane;
import dev.trellis.install.IdentityFiles;
import dev.trellis.install.InstallOptions;
import dev.trellis.install.check.CheckOptions;
import dev.trellis.install.check.CheckReport;
import dev.trellis.install.check.ClusterCheck;
import dev.trellis.install.check.Outcome;
import dev.trellis.proxy.Proxy;
import dev.trellis.proxy.ProxyConfig;
import dev.trellis.tls.pki.CaCertificates;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.Pem;
import dev.trellis.testing.cluster.RunningPod;
import dev.trellis.testing.cluster.SimulatedCluster;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control plane as {@code trellis install} renders it, run on a simulated cluster: the
 * identity, destination, viz and injector Deployments become pods whose containers run the packaged
 * distribution exactly as the rendered spec says (arguments, environment, volumes, uid,
 * read-only root), in {@code --kubernetes} mode against the API server. {@code trellis check}
 * then passes, and a proxy with a service-account token gets its certificate from that
 * identity service and its endpoints from that destination service, and carries a request.
 */
class ControlPlaneOnKubernetesTest {

    @TempDir
    Path dir;

    @Test
    void theRenderedControlPlaneRunsAndServesAProxy() throws Exception {
        assumeTrue(SimulatedCluster.available(), "needs root, ip, setpriv and mount (CI runs as root)");
        try (SimulatedCluster cluster = SimulatedCluster.start(dir.resolve("cluster"), Distribution.images())) {
            KubernetesClient client = cluster.client();
            // A PKI as `trellis identity bootstrap` makes it (a year's issuer, so check has nothing to warn about).
            Path pki = Files.createDirectories(dir.resolve("pki"));
            CaCredentials anchor = CaCertificates.newTrustAnchor("cluster.local", CaCertificates.DEFAULT_ANCHOR_LIFETIME, Instant.now());
            CaCredentials issuer = CaCertificates.newIssuer(anchor, "cluster.local", CaCertificates.DEFAULT_ISSUER_LIFETIME, Instant.now());
            Path anchors = pki.resolve("trust-anchor.pem");
            Files.writeString(anchors, Pem.encodeCertificates(List.of(anchor.certificate())));
            Files.writeString(pki.resolve("issuer.pem"), Pem.encodeCertificates(issuer.chain()));
            Files.writeString(pki.resolve("issuer-key.pem"), Pem.encodePrivateKey(issuer.key()));
            InstallOptions options = InstallOptions.builder(IdentityFiles.read(anchors,
                    Optional.of(new IdentityFiles.IssuerFiles(pki.resolve("issuer.pem"), pki.resolve("issuer-key.pem"))), Instant.now()))
                    .webhook(Optional.of(InstallOptions.WebhookTls.generate("trellis", "cluster.local", Instant.now()))).build();
            for (HasMetadata crd : ControlPlane.crds()) {
                client.resource(crd).create();
            }
            List<Deployment> deployments = new ArrayList<>();
            for (HasMetadata object : ControlPlane.objects(options, new SecureRandom())) {
                if (object instanceof Deployment deployment) {
                    deployments.add(deployment);
                } else {
                    client.resource(object).create();
                }
            }
            List<RunningPod> pods = new ArrayList<>();
            for (Deployment deployment : deployments) {
                // Later pods find earlier ones by their Service names, so start each once every replica before is ready
                // (check counts them all).
                for (RunningPod pod : cluster.deploy(deployment)) {
                    pods.add(pod.awaitReady(Duration.ofSeconds(90)));
                }
            }
            RunningPod identity = pods.stream().filter(p -> p.name().startsWith("trellis-identity")).findFirst().orElseThrow();
            RunningPod destination = pods.stream().filter(p -> p.name().startsWith("trellis-destination")).findFirst().orElseThrow();
            // The containers run as the spec's uid, on a read-only root.
            Distribution.ProcessView identityProcess = Distribution.process(List.of("dev.trellis.cli.Main", "identity", "serve", "--kubernetes"));
            assertThat(identityProcess.uid()).isEqualTo(2103);
            assertThat(identityProcess.readOnlyRoot()).isTrue();

            CheckReport report = ClusterCheck.run(client, CheckOptions.defaults(), Clock.systemUTC());
            assertThat(report.worst()).as(report.text()).isEqualTo(Outcome.OK);

            // An app pod (emoji) and its proxy run on the host's bridge address; the web proxy calls it by its Service name.
            String host = cluster.hostAddress().getHostAddress();
            HttpServer app = HttpServer.create(new InetSocketAddress(host, 0), 0);
            app.createContext("/", exchange -> {
                byte[] body = "emoji\n".getBytes();
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
                exchange.close();
            });
            app.start();
            int appPort = app.getAddress().getPort();
            meshedApp(client, host, appPort);
            List<Proxy> proxies = new ArrayList<>();
            try {
                WorkloadIdentity emoji = new WorkloadIdentity("cluster.local", "emojivoto", "emoji");
                WorkloadIdentity web = new WorkloadIdentity("cluster.local", "emojivoto", "web");
                proxies.add(Proxy.start(proxy(cluster, anchors, identity, destination, emoji, new HostPort(host, 4143), Optional.empty())
                        .declaredPorts(Set.of(appPort)).build(), Clock.systemUTC()));
                Proxy client0 = Proxy.start(proxy(cluster, anchors, identity, destination, web, new HostPort("127.0.0.1", 0),
                        Optional.of(new HostPort("127.0.0.1", 0))).build(), Clock.systemUTC());
                proxies.add(client0);
                HttpClient http = HttpClient.newBuilder().proxy(ProxySelector.of(client0.outboundAddress().orElseThrow())).build();
                Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).ignoreExceptions().untilAsserted(() -> {
                    HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://emoji-svc.emojivoto.svc.cluster.local/"))
                            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(answer.statusCode()).as(answer.headers().map().toString()).isEqualTo(200);
                    assertThat(answer.body()).isEqualTo("emoji\n");
                });
            } finally {
                proxies.forEach(Proxy::close);
                app.stop(0);
            }
            // The identity service's audit log (its stdout) saw both proxies, authenticated by TokenReview.
            assertThat(Files.readString(identity.log("identity"))).contains("spiffe://cluster.local/ns/emojivoto/sa/web").contains("\"outcome\":\"issued\"");
        }
    }

    /** Namespace, service accounts, the emoji Service and a meshed pod behind it at {@code host} (its proxy on 4143), with its EndpointSlice. */
    private static void meshedApp(KubernetesClient client, String host, int appPort) {
        client.resource(new NamespaceBuilder().withNewMetadata().withName("emojivoto").endMetadata().build()).create();
        for (String account : List.of("web", "emoji")) {
            client.resource(new ServiceAccountBuilder().withNewMetadata().withName(account).withNamespace("emojivoto").endMetadata().build()).create();
        }
        client.resource(new ServiceBuilder().withNewMetadata().withName("emoji-svc").withNamespace("emojivoto").endMetadata()
                .withNewSpec().addToSelector("app", "emoji").addNewPort().withName("http").withPort(80)
                .withNewTargetPort(appPort).endPort().endSpec().build()).create();
        // No iptables redirect here (that is proxy-init's job): the pod names its proxy's port, so clients dial it.
        client.resource(new PodBuilder().withNewMetadata().withName("emoji-0").withNamespace("emojivoto").addToLabels("app", "emoji")
                    .addToAnnotations("config.trellis.dev/proxy-inbound-port", "4143").endMetadata()
                .withNewSpec().withServiceAccountName("emoji")
                    .addNewContainer().withName("app").withImage("emoji").addNewPort().withName("http").withContainerPort(appPort).endPort().endContainer()
                    .addNewContainer().withName("trellis-proxy").withImage("proxy").endContainer()
                .endSpec()
                .withNewStatus().withPodIP(host).withPhase("Running").endStatus().build()).create();
        client.resource(new EndpointSliceBuilder().withNewMetadata().withName("emoji-svc-1").withNamespace("emojivoto")
                .addToLabels("kubernetes.io/service-name", "emoji-svc").endMetadata()
                .withAddressType("IPv4")
                .addNewEndpoint().withAddresses(host).withNewConditions().withReady(true).endConditions()
                    .withNewTargetRef().withKind("Pod").withName("emoji-0").withNamespace("emojivoto").endTargetRef().endEndpoint()
                .addNewPort().withName("http").withPort(appPort).withProtocol("TCP").endPort()
                .build()).create();
    }

    /** A proxy for {@code workload} with a service-account token the simulated API server vouches for, against the pods' services. */
    private static ProxyConfig.Builder proxy(SimulatedCluster cluster, Path anchors, RunningPod identity, RunningPod destination,
                                             WorkloadIdentity workload, HostPort inbound, Optional<HostPort> outbound) throws Exception {
        Path token = Files.createTempFile("sa-token", ".jwt");
        Files.writeString(token, cluster.mintToken(workload.namespace(), workload.serviceAccount(), ControlPlaneComponent.IDENTITY_TOKEN_AUDIENCE));
        return ProxyConfig.builder(workload)
                .trustAnchorFile(anchors).tokenFile(token)
                .identityService(new HostPort(identity.address(), 8080))
                .destinationService(new HostPort(destination.address(), 8086))
                .inbound(inbound).outbound(outbound).admin(new HostPort("127.0.0.1", 0)).tap(Optional.empty())
                .connectTimeout(Duration.ofSeconds(2)).requestTimeout(Duration.ofSeconds(5)).shutdownGrace(Duration.ofSeconds(1))
                .connectionLogFile(Optional.empty());
    }
}
