package dev.trellis.cluster.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.policy.PolicyResources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalDirectorySourceTest {

    static final String APP = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: emojivoto}
            ---
            apiVersion: v1
            kind: ServiceAccount
            metadata: {namespace: emojivoto, name: web}
            ---
            apiVersion: v1
            kind: Service
            metadata: {namespace: emojivoto, name: web-svc}
            spec:
              selector: {app: web}
              ports: [{name: http, port: 80, targetPort: 8080}]
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              namespace: emojivoto
              name: web-0
              labels: {app: web}
            spec:
              serviceAccountName: web
              containers: [{name: app, image: web, ports: [{name: http, containerPort: 8080}]}]
            status: {podIP: 127.0.0.1}
            """;

    static final String SERVER = """
            apiVersion: policy.trellis.dev/v1alpha1
            kind: Server
            metadata: {namespace: emojivoto, name: web-http}
            spec:
              podSelector: {matchLabels: {app: web}}
              port: http
              protocol: http1
            """;

    @TempDir
    Path dir;

    @Test
    void readsManifestsAndPolicyResources() throws Exception {
        Files.writeString(dir.resolve("app.yaml"), APP);
        Files.writeString(dir.resolve("policy.yml"), SERVER);
        try (LocalDirectorySource source = LocalDirectorySource.start(dir, Duration.ofMillis(50))) {
            ClusterSnapshot snapshot = source.current();
            assertThat(source.synced()).isTrue();
            assertThat(source.problem()).isEmpty();
            assertThat(snapshot.service(new ObjectKey("emojivoto", "web-svc"))).isPresent();
            assertThat(snapshot.pod(new ObjectKey("emojivoto", "web-0")).orElseThrow().getSpec().getServiceAccountName()).isEqualTo("web");
            assertThat(snapshot.podByIp("127.0.0.1")).isPresent();
            assertThat(snapshot.servers()).singleElement().satisfies(server -> {
                assertThat(server.port().name()).hasValue("http");
                assertThat(server.protocol()).isEqualTo(PolicyResources.Protocol.HTTP1);
            });
        }
    }

    @Test
    void anEditReachesSubscribers() throws Exception {
        Files.writeString(dir.resolve("app.yaml"), APP);
        try (LocalDirectorySource source = LocalDirectorySource.start(dir, Duration.ofMillis(50))) {
            LinkedBlockingQueue<ClusterSnapshot> seen = new LinkedBlockingQueue<>();
            source.subscribe(seen::add);
            Files.writeString(dir.resolve("policy.yaml"), SERVER);
            ClusterSnapshot next = seen.poll(5, TimeUnit.SECONDS);
            assertThat(next).isNotNull();
            assertThat(next.servers()).hasSize(1);
            assertThat(next.generation()).isGreaterThan(1);
        }
    }

    @Test
    void aBrokenFileKeepsTheLastGoodStateAndIsReportedWithItsLine() throws Exception {
        Files.writeString(dir.resolve("app.yaml"), APP);
        try (LocalDirectorySource source = LocalDirectorySource.start(dir, Duration.ofMillis(50))) {
            long good = source.current().generation();
            Files.writeString(dir.resolve("app.yaml"), APP + "---\napiVersion: v1\nkind: Service\nmetadata: {name: x\n  spec: [\n");
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> source.problem().isPresent());
            assertThat(source.problem().orElseThrow()).contains(dir.resolve("app.yaml").toString() + ":").contains("not valid YAML");
            assertThat(source.current().generation()).isEqualTo(good);
            assertThat(source.current().service(new ObjectKey("emojivoto", "web-svc"))).isPresent();

            Files.writeString(dir.resolve("app.yaml"), APP);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> source.problem().isEmpty());
            assertThat(source.current().generation()).isGreaterThan(good);
        }
    }

    @Test
    void anInvalidPolicyNamesFileLineAndField() throws Exception {
        Files.writeString(dir.resolve("app.yaml"), APP);
        Files.writeString(dir.resolve("policy.yaml"), "# policies\n" + SERVER + "---\n" + SERVER.replace("web-http", "bad").replace("port: http", "port: 70000"));
        try (LocalDirectorySource source = LocalDirectorySource.start(dir, Duration.ofMillis(50))) {
            assertThat(source.synced()).isFalse();
            assertThat(source.problem().orElseThrow())
                    .contains(dir.resolve("policy.yaml") + ":10:")
                    .contains("Server emojivoto/bad: spec.port");
        }
    }

    @Test
    void aMisspelledPolicyFieldIsNamedAndTheLastGoodStateKept() throws Exception {
        Files.writeString(dir.resolve("app.yaml"), APP);
        Files.writeString(dir.resolve("policy.yaml"), SERVER);
        try (LocalDirectorySource source = LocalDirectorySource.start(dir, Duration.ofMillis(50))) {
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(source::synced);
            assertThat(source.current().servers()).hasSize(1);
            Files.writeString(dir.resolve("policy.yaml"), SERVER.replace("port: http", "port: http\n  protocal: http1"));
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> source.problem().isPresent());
            assertThat(source.problem().orElseThrow()).contains(dir.resolve("policy.yaml") + ":")
                    .contains("Server emojivoto/web-http: spec.protocal: unknown field (spec has: accessPolicy, podSelector, port, protocol)");
            // Not stored and ignored: the Server as it was stays in force until the file is fixed.
            assertThat(source.current().servers()).hasSize(1);
        }
    }

    @Test
    void anIdentityThatIsNeitherAPatternNorASpiffeIdIsRefusedByName() throws Exception {
        Files.writeString(dir.resolve("app.yaml"), APP);
        Files.writeString(dir.resolve("authn.yaml"), """
                apiVersion: policy.trellis.dev/v1alpha1
                kind: MeshTLSAuthentication
                metadata: {namespace: emojivoto, name: shop}
                spec: {identities: ["spiffe://cluster.local/ns/shop/sa/*", "spiffe://cluster.local/ns/shop*"]}
                """);
        try (LocalDirectorySource source = LocalDirectorySource.start(dir, Duration.ofMillis(50))) {
            assertThat(source.synced()).isFalse();
            assertThat(source.problem().orElseThrow())
                    .contains("MeshTLSAuthentication emojivoto/shop: spec.identities[1]")
                    .contains("spiffe://cluster.local/ns/shop*");
        }
    }

    @Test
    void aMissingDirectoryIsRefusedByName() {
        assertThatThrownBy(() -> LocalDirectorySource.start(dir.resolve("nope"), Duration.ofSeconds(1)))
                .hasMessageContaining("nope").hasMessageContaining("does not exist");
    }

    @Test
    void anEmptyDirectoryIsAValidStateAndIsSynced() throws Exception {
        try (LocalDirectorySource source = LocalDirectorySource.start(dir, Duration.ofMillis(50))) {
            assertThat(source.synced()).isTrue();
            assertThat(source.problem()).isEmpty();
            assertThat(source.current().pods()).isEmpty();
        }
    }

    @Test
    void aServiceWithASelectorGetsTheEndpointSlicesKubernetesWouldWriteUnlessItHasItsOwn() throws Exception {
        Files.writeString(dir.resolve("app.yaml"), APP.replace("targetPort: 8080", "targetPort: http") + """
                ---
                apiVersion: v1
                kind: Pod
                metadata: {namespace: emojivoto, name: web-1, labels: {app: web}}
                spec: {serviceAccountName: web, containers: [{name: app, image: web, ports: [{name: http, containerPort: 9090}]}]}
                status: {podIP: 10.0.0.2, phase: Running}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {namespace: other, name: web-9, labels: {app: web}}
                spec: {containers: [{name: app, image: web, ports: [{name: http, containerPort: 8080}]}]}
                status: {podIP: 10.0.0.9, phase: Running}
                """);
        try (LocalDirectorySource source = LocalDirectorySource.start(dir, Duration.ofMillis(50))) {
            var slices = source.current().endpointSlices(new ObjectKey("emojivoto", "web-svc"));
            // Two pods whose named target port resolves differently: two slices; the pod of another namespace: none.
            assertThat(slices).hasSize(2);
            assertThat(slices).flatExtracting(s -> s.getEndpoints()).extracting(e -> e.getAddresses().getFirst() + " ready=" + e.getConditions().getReady())
                    .containsExactlyInAnyOrder("127.0.0.1 ready=false", "10.0.0.2 ready=true");
            assertThat(slices).flatExtracting(s -> s.getPorts()).extracting(p -> p.getName() + ":" + p.getPort()).containsExactlyInAnyOrder("http:8080", "http:9090");

            // A hand-written slice wins over every derived one.
            Files.writeString(dir.resolve("slice.yaml"), """
                    apiVersion: discovery.k8s.io/v1
                    kind: EndpointSlice
                    metadata: {namespace: emojivoto, name: by-hand, labels: {kubernetes.io/service-name: web-svc}}
                    addressType: IPv4
                    ports: [{name: http, port: 7777}]
                    endpoints: [{addresses: [10.0.0.7], conditions: {ready: true}}]
                    """);
            Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(source.current().endpointSlices(new ObjectKey("emojivoto", "web-svc"))).singleElement()
                            .satisfies(slice -> assertThat(slice.getMetadata().getName()).isEqualTo("by-hand")));
        }
    }
}
