package dev.trellis.benchmarks;

import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.cluster.manifest.ManifestStream;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.destination.DestinationServer;
import dev.trellis.destination.DestinationServerConfig;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The control plane for {@code bench/proxy-compare.sh}: the real identity service and the real
 * destination service (local mode, over a state directory this class writes with fabric8's
 * builders: a Service and an EndpointSlice per authority, and one server Pod naming the
 * server proxy's inbound port). The proxies under test talk to them exactly as in a mesh.
 * Writes what the proxies need into a directory, then runs until killed.
 *
 * <p>Usage: {@code BenchControlPlane <dir> <server-proxy-inbound-port> <service>=<backend-port>...}
 * where each service is served as {@code <service>.bench.svc.cluster.local:80}. Writes
 * {@code trust-anchor.pem}, {@code web.token}, {@code emoji.token} and {@code env} (shell
 * variables IDENTITY_ADDR, DESTINATION_ADDR) into {@code dir}.
 */
public final class BenchControlPlane {

    static final String NAMESPACE = "bench";

    private BenchControlPlane() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int serverInboundPort = Integer.parseInt(args[1]);
        Files.createDirectories(dir);
        TestPki pki = TestPki.create(dir);
        WorkloadIdentity web = TestPki.identity(NAMESPACE, "web");
        WorkloadIdentity emoji = TestPki.identity(NAMESPACE, "emoji");
        IdentityServer identity = IdentityServer.start(
                IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(), pki.issuerKeyFile())
                        .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), AuditLog.sharing(OutputStream.nullOutputStream()),
                Clock.systemUTC());

        Map<String, Integer> services = new java.util.LinkedHashMap<>();
        for (int i = 2; i < args.length; i++) {
            String[] pair = args[i].split("=", 2);
            services.put(pair[0], Integer.parseInt(pair[1]));
        }
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        Files.writeString(state.resolve("bench.yaml"), ManifestStream.yaml(clusterState(services, serverInboundPort)));
        LocalDirectorySource cluster = LocalDirectorySource.start(state, Duration.ofSeconds(1));
        DestinationServerConfig config = DestinationServerConfig.builder(TestPki.TRUST_DOMAIN)
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build();
        CredentialsStore credentials = new CredentialsStore(config.identity(), pki.trustAnchors(), Clock.systemUTC());
        credentials.install(pki.credentialsFor(config.identity(), Duration.ofHours(12)));
        DestinationServer destination = DestinationServer.start(config, cluster, credentials, Clock.systemUTC());

        for (WorkloadIdentity workload : List.of(web, emoji)) {
            Files.writeString(dir.resolve(workload.serviceAccount() + ".token"),
                    LocalTokens.mint(pki.tokenKey().getPrivate(), workload, Duration.ofHours(12), Instant.now()));
        }
        Files.writeString(dir.resolve("env"), "IDENTITY_ADDR=127.0.0.1:" + identity.grpcAddress().getPort() + "\n"
                + "DESTINATION_ADDR=127.0.0.1:" + destination.grpcAddress().getPort() + "\n");
        System.out.println("bench control plane ready in " + dir);
        Thread.currentThread().join();
    }

    /** One server pod (service account emoji) on 127.0.0.1 serving every backend port; a Service and a slice per service. */
    static List<HasMetadata> clusterState(Map<String, Integer> services, int serverInboundPort) {
        List<HasMetadata> objects = new ArrayList<>();
        objects.add(new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build());
        objects.add(new PodBuilder().withNewMetadata().withNamespace(NAMESPACE).withName("emoji-0").addToLabels("app", "emoji")
                .addToAnnotations("config.trellis.dev/proxy-inbound-port", Integer.toString(serverInboundPort)).endMetadata()
                .withNewSpec().withServiceAccountName("emoji").addNewContainer().withName("app").withImage("nginx")
                .withPorts(services.entrySet().stream().map(e -> new ContainerPortBuilder().withName(e.getKey()).withContainerPort(e.getValue()).build())
                        .toList())
                .endContainer().endSpec()
                .withNewStatus().withPodIP("127.0.0.1").withPhase("Running").endStatus().build());
        services.forEach((service, port) -> {
            objects.add(new ServiceBuilder().withNewMetadata().withNamespace(NAMESPACE).withName(service).endMetadata()
                    .withNewSpec().addNewPort().withName("http").withPort(80).endPort().endSpec().build());
            objects.add(new EndpointSliceBuilder().withNewMetadata().withNamespace(NAMESPACE).withName(service)
                    .addToLabels("kubernetes.io/service-name", service).endMetadata()
                    .withAddressType("IPv4")
                    .addNewPort().withName("http").withPort(port).endPort()
                    .addNewEndpoint().withAddresses("127.0.0.1").withNewConditions().withReady(true).endConditions()
                    .withNewTargetRef().withKind("Pod").withNamespace(NAMESPACE).withName("emoji-0").endTargetRef().endEndpoint()
                    .build());
        });
        return objects;
    }
}
