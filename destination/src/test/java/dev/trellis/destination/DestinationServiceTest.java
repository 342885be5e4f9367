package dev.trellis.destination;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.api.destination.v1.GetDestination;
import dev.trellis.api.policy.v1.InboundPort;
import dev.trellis.api.policy.v1.InboundServer;
import dev.trellis.api.policy.v1.Workload;
import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.ratelimit.RateLimit;
import dev.trellis.testing.TestPki;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DestinationServiceTest {

    private static final WorkloadIdentity CLIENT = TestPki.identity("emojivoto", "client");
    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final String WEB_SVC = "web-svc.emojivoto.svc.cluster.local:80";

    @TempDir
    Path dir;

    @Test
    void getSendsTheFullSetThenFollowsAnEditedManifest() throws Exception {
        Path state = Files.createDirectories(dir.resolve("state"));
        Files.writeString(state.resolve("app.yaml"), Manifests.app("emojivoto", "web-svc", "web", 1, 2, ""));
        try (LocalDirectorySource source = LocalDirectorySource.start(state, Duration.ofMillis(50));
             DestinationFixture fixture = new DestinationFixture(dir.resolve("pki"), source, c -> c)) {
            UpdateRecorder stream = new UpdateRecorder();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority(WEB_SVC).build(), stream);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().equals(Set.of("10.0.1.1:8080", "10.0.1.2:8080")));
            var first = stream.updates.getFirst().getAdd();
            assertThat(first.getMetricLabelsMap()).containsEntry("namespace", "emojivoto").containsEntry("service", "web-svc");
            assertThat(first.getAddrs(0).getTlsIdentity().getSpiffeId()).isEqualTo(WEB.spiffeId());
            assertThat(first.getAddrs(0).getProxyInboundPort()).isEqualTo(4143);
            assertThat(first.getAddrs(0).getMetricLabelsMap()).containsEntry("owner_kind", "replicaset").containsKey("pod");

            // Scale to three, then take one out of readiness.
            Files.writeString(state.resolve("app.yaml"), Manifests.app("emojivoto", "web-svc", "web", 1, 3, ""));
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().size() == 3);
            Files.writeString(state.resolve("app.yaml"), Manifests.app("emojivoto", "web-svc", "web", 1, 3, "").replace(
                    Manifests.slice("emojivoto", "web-svc", 1, true, true, true), Manifests.slice("emojivoto", "web-svc", 1, true, false, true)));
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().equals(Set.of("10.0.1.1:8080", "10.0.1.3:8080")));

            // A broken edit changes nothing the stream sees, and /ready says which file.
            int before = stream.updates.size();
            Files.writeString(state.resolve("app.yaml"), "kind: [broken\n");
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> source.problem().isPresent());
            assertThat(source.problem().orElseThrow()).contains("app.yaml:");
            Thread.sleep(300);
            assertThat(stream.updates).hasSize(before);
            assertThat(stream.error.get()).isNull();
        }
    }

    @Test
    void unknownAuthoritiesAndBadInputAreAnswered() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        source.set(Manifests.app("emojivoto", "web-svc", "web", 1, 1, ""));
        try (DestinationFixture fixture = new DestinationFixture(dir, source, c -> c)) {
            UpdateRecorder external = new UpdateRecorder();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority("example.com:443").build(), external);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> !external.updates.isEmpty());
            assertThat(external.updates.getFirst().getNoEndpoints().getExists()).isFalse();

            UpdateRecorder bad = new UpdateRecorder();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority("no-port").build(), bad);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> bad.error.get() != null);
            assertThat(Status.fromThrowable(bad.error.get()).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);

            UpdateRecorder byPodIp = new UpdateRecorder();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority("10.0.1.1:8080").build(), byPodIp);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> byPodIp.endpoints().equals(Set.of("10.0.1.1:8080")));
            assertThat(byPodIp.identities()).containsExactly(WEB.spiffeId());
        }
    }

    @Test
    void strictVisibilityHidesOtherNamespacesUntilTheyExport() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        String other = Manifests.app("billing", "ledger-svc", "ledger", 2, 1, "");
        source.set(Manifests.app("emojivoto", "web-svc", "web", 1, 1, "") + other);
        try (DestinationFixture fixture = new DestinationFixture(dir, source, c -> c.toBuilder().strictVisibility(true).build())) {
            UpdateRecorder denied = new UpdateRecorder();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority("ledger-svc.billing.svc.cluster.local:80").build(), denied);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> denied.error.get() != null);
            assertThat(Status.fromThrowable(denied.error.get()).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(denied.error.get()).hasMessageContaining("billing").hasMessageContaining("emojivoto");

            UpdateRecorder own = new UpdateRecorder();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority(WEB_SVC).build(), own);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> own.endpoints().size() == 1);

            source.set(Manifests.app("emojivoto", "web-svc", "web", 1, 1, "")
                    + Manifests.app("billing", "ledger-svc", "ledger", 2, 1, "trellis.dev/visible-to: \"emojivoto,shop\""));
            UpdateRecorder exported = new UpdateRecorder();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority("ledger-svc.billing.svc.cluster.local:80").build(), exported);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> exported.endpoints().size() == 1);
            assertThat(exported.error.get()).isNull();
        }
    }

    @Test
    void oneCallerOpeningAThousandStreamsIsLimitedWhileAnotherKeepsItsUpdates() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        source.set(Manifests.app("emojivoto", "web-svc", "web", 1, 1, ""));
        try (DestinationFixture fixture = new DestinationFixture(dir, source,
                c -> c.toBuilder().limits(50, 1000, RateLimit.parse("100/s,200"), Duration.ofMillis(100)).build())) {
            var flood = fixture.destination(TestPki.identity("rogue", "flood"));
            List<UpdateRecorder> floods = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                UpdateRecorder stream = new UpdateRecorder();
                floods.add(stream);
                flood.get(GetDestination.newBuilder().setAuthority(WEB_SVC).build(), stream);
            }
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> floods.stream().filter(s -> s.error.get() != null || !s.updates.isEmpty()).count() == 1000);
            long refused = floods.stream().filter(s -> s.error.get() != null).count();
            assertThat(refused).isGreaterThanOrEqualTo(950);
            assertThat(floods.stream().filter(s -> s.error.get() != null)
                    .map(s -> Status.fromThrowable(s.error.get()).getCode()).distinct().toList()).containsExactly(Status.Code.RESOURCE_EXHAUSTED);

            UpdateRecorder other = new UpdateRecorder();
            long started = System.nanoTime();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority(WEB_SVC).build(), other);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> other.endpoints().size() == 1);
            source.set(Manifests.app("emojivoto", "web-svc", "web", 1, 2, ""));
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> other.endpoints().size() == 2);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the other caller is not slowed").isLessThan(Duration.ofSeconds(3));
        }
    }

    @Test
    void aFlappingPodYieldsABoundedNumberOfUpdates() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        String up = Manifests.app("emojivoto", "web-svc", "web", 1, 2, "");
        String down = up.replace(Manifests.slice("emojivoto", "web-svc", 1, true, true), Manifests.slice("emojivoto", "web-svc", 1, true, false));
        source.set(up);
        try (DestinationFixture fixture = new DestinationFixture(dir, source, c -> c)) {
            UpdateRecorder stream = new UpdateRecorder();
            fixture.destination(CLIENT).get(GetDestination.newBuilder().setAuthority(WEB_SVC).build(), stream);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().size() == 2);
            // 200 readiness flips over two seconds: 100 per second.
            for (int i = 0; i < 200; i++) {
                source.set(i % 2 == 0 ? down : up);
                Thread.sleep(10);
            }
            source.set(up);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> stream.endpoints().size() == 2);
            Thread.sleep(300);
            // One update (an add or a remove) per 100 ms window at most: ~2.5 s of churn, not 200 flips.
            assertThat(stream.updates.size()).isLessThan(2 + 2 * 30);
            assertThat(stream.endpoints()).hasSize(2);
        }
    }

    @Test
    void aWorkloadWatchesOnlyItsOwnInboundPolicy() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        source.set(webServerAuthorizing("{identityRefs: [{kind: ServiceAccount, name: client}]}"));
        try (DestinationFixture fixture = new DestinationFixture(dir, source, c -> c)) {
            InboundPort request = InboundPort.newBuilder().setWorkload(Workload.newBuilder().setNamespace("emojivoto").setName("web-svc-0")).setPort(8080).build();
            InboundServer policy = fixture.policy(WEB).withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS).watchInbound(request).next();
            assertThat(policy.getProtocol()).isEqualTo(InboundServer.Protocol.HTTP1);
            assertThat(policy.getLabelsMap()).containsEntry("name", "web-http");
            assertThat(policy.getAuthorizationsList()).singleElement().satisfies(a ->
                    assertThat(a.getMeshTls().getIdentitiesList()).containsExactly(CLIENT.spiffeId()));
            assertThat(policy.getRoutesList()).anySatisfy(route -> {
                assertThat(route.getName()).isEqualTo("probe");
                assertThat(route.getMatches(0).getPathExact()).isEqualTo("/ready");
            });

            assertThatThrownBy(() -> fixture.policy(CLIENT).withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS).watchInbound(request).next())
                    .isInstanceOf(StatusRuntimeException.class)
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED))
                    .hasMessageContaining("sa/web");
        }
    }

    @Test
    void wildcardIdentitiesReachProxiesAsPatternsNotAsExactIdentities() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        source.set(webServerAuthorizing("{identities: [\"spiffe://cluster.local/ns/shop/sa/*\", \"spiffe://cluster.local/ns/ops/sa/admin\"]}"));
        try (DestinationFixture fixture = new DestinationFixture(dir, source, c -> c)) {
            InboundPort request = InboundPort.newBuilder().setWorkload(Workload.newBuilder().setNamespace("emojivoto").setName("web-svc-0")).setPort(8080).build();
            InboundServer policy = fixture.policy(WEB).withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS).watchInbound(request).next();
            assertThat(policy.getAuthorizationsList()).singleElement().satisfies(a -> {
                assertThat(a.getMeshTls().getPatternsList()).containsExactly("spiffe://cluster.local/ns/shop/sa/*");
                assertThat(a.getMeshTls().getIdentitiesList()).containsExactly("spiffe://cluster.local/ns/ops/sa/admin");
                assertThat(a.getMeshTls().getAny()).isFalse();
            });
        }
    }

    @Test
    void anIdentityOfAnotherTrustDomainSignedByATrustedCaIsServedNothing() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        source.set(Manifests.app("emojivoto", "web-svc", "web", 1, 1, ""));
        WorkloadIdentity evilWeb = new WorkloadIdentity("evil.example", "emojivoto", "web");
        try (DestinationFixture fixture = new DestinationFixture(dir, source, c -> c)) {
            Workload workload = Workload.newBuilder().setNamespace("emojivoto").setName("web-svc-0").build();
            InboundPort port = InboundPort.newBuilder().setWorkload(workload).setPort(8080).build();
            // The real owner is served, so the refusals below are about the trust domain alone.
            assertThat(fixture.policy(WEB).withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS).watchInbound(port).next()).isNotNull();

            for (java.util.function.Supplier<Object> call : List.<java.util.function.Supplier<Object>>of(
                    () -> policyOf(fixture, evilWeb).watchInbound(port).next(),
                    () -> policyOf(fixture, evilWeb).watchEgress(workload).next(),
                    () -> destinationOf(fixture, evilWeb).get(GetDestination.newBuilder().setAuthority(WEB_SVC).build()).next())) {
                assertThatThrownBy(call::get).isInstanceOf(StatusRuntimeException.class)
                        .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED))
                        .hasMessageContaining("spiffe://evil.example/ns/emojivoto/sa/web is outside the trust domains served here ([cluster.local])");
            }
        }
        // Unless the operator accepts that trust domain, and even then it owns no local workload.
        try (DestinationFixture fixture = new DestinationFixture(dir.resolve("accepting"), source,
                c -> c.toBuilder().acceptedTrustDomains(Set.of("cluster.local", "evil.example")).build())) {
            assertThat(destinationOf(fixture, evilWeb).get(GetDestination.newBuilder().setAuthority(WEB_SVC).build()).next().hasAdd()).isTrue();
            InboundPort port = InboundPort.newBuilder().setWorkload(Workload.newBuilder().setNamespace("emojivoto").setName("web-svc-0")).setPort(8080).build();
            assertThatThrownBy(() -> policyOf(fixture, evilWeb).watchInbound(port).next())
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED))
                    .hasMessageContaining("which runs as spiffe://cluster.local/ns/emojivoto/sa/web");
        }
    }

    private static dev.trellis.api.policy.v1.PolicyGrpc.PolicyBlockingStub policyOf(DestinationFixture fixture, WorkloadIdentity caller) {
        try {
            return fixture.policy(caller).withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static dev.trellis.api.destination.v1.DestinationGrpc.DestinationBlockingStub destinationOf(DestinationFixture fixture, WorkloadIdentity caller) {
        try {
            return dev.trellis.api.destination.v1.DestinationGrpc.newBlockingStub(fixture.channel(caller)).withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aWorkloadsDeclaredPortsAreItsContainerPortsAndItsServersPortsAndFollowEdits() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        String pod = """
                apiVersion: v1
                kind: Pod
                metadata:
                  namespace: emojivoto
                  name: web-0
                  labels: {app: web}
                  annotations: {config.trellis.dev/loopback-ports: "9901,9902"}
                spec:
                  serviceAccountName: web
                  containers:
                    - {name: app, image: web, ports: [{name: http, containerPort: 8080}, {containerPort: 5353, protocol: UDP}, {containerPort: 9902}]}
                    - {name: trellis-proxy, image: proxy, ports: [{name: admin, containerPort: 4191}]}
                status: {podIP: 10.0.0.9, phase: Running}
                ---
                """;
        String servers = """
                apiVersion: policy.trellis.dev/v1alpha1
                kind: Server
                metadata: {namespace: emojivoto, name: web-metrics}
                spec: {podSelector: {matchLabels: {app: web}}, port: 9100, protocol: http1}
                ---
                apiVersion: policy.trellis.dev/v1alpha1
                kind: Server
                metadata: {namespace: emojivoto, name: web-debug}
                spec: {podSelector: {matchLabels: {app: web}}, port: 9901, protocol: http1}
                ---
                """;
        source.set(pod + servers);
        try (DestinationFixture fixture = new DestinationFixture(dir, source, c -> c)) {
            var stream = fixture.policy(WEB).withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
                    .watchWorkload(Workload.newBuilder().setNamespace("emojivoto").setName("web-0").build());
            // 8080 (container), 9100 (a Server), 9901 (loopback, with a Server); not UDP 5353, not the proxy's 4191,
            // not 9902 (loopback without a Server).
            assertThat(stream.next().getPortsList()).extracting(p -> p.getPort() + (p.getLoopback() ? " loopback" : ""))
                    .containsExactly("8080", "9100", "9901 loopback");
            source.set(pod);
            assertThat(stream.next().getPortsList()).extracting(p -> p.getPort()).containsExactly(8080);
            assertThatThrownBy(() -> fixture.policy(CLIENT).withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS)
                    .watchWorkload(Workload.newBuilder().setNamespace("emojivoto").setName("web-0").build()).next())
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
        }
    }

    @Test
    void aPortNoContainerDeclaresIsDeclaredByTheServicesThatSendToIt() throws Exception {
        MutableClusterSource source = new MutableClusterSource();
        // As many manifests are written: no containerPort at all; the Services say where the app serves.
        String pod = """
                apiVersion: v1
                kind: Pod
                metadata: {namespace: emojivoto, name: web-0, labels: {app: web}}
                spec:
                  serviceAccountName: web
                  containers: [{name: app, image: web}]
                status: {podIP: 10.0.0.9, phase: Running}
                ---
                """;
        String services = """
                apiVersion: v1
                kind: Service
                metadata: {namespace: emojivoto, name: web-svc}
                spec:
                  selector: {app: web}
                  ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 9090}, {name: dns, port: 53, protocol: UDP}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {namespace: other, name: elsewhere}
                spec: {selector: {app: web}, ports: [{port: 81, targetPort: 7070}]}
                ---
                apiVersion: v1
                kind: Service
                metadata: {namespace: emojivoto, name: manual}
                spec: {ports: [{port: 82}]}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {namespace: emojivoto, name: manual-1, labels: {kubernetes.io/service-name: manual}}
                addressType: IPv4
                ports: [{port: 6060}]
                endpoints: [{addresses: [10.0.0.9], targetRef: {kind: Pod, name: web-0, namespace: emojivoto}}]
                ---
                """;
        source.set(pod + services);
        try (DestinationFixture fixture = new DestinationFixture(dir, source, c -> c)) {
            var stream = fixture.policy(WEB).withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
                    .watchWorkload(Workload.newBuilder().setNamespace("emojivoto").setName("web-0").build());
            // 8080 (a targetPort), 9090 (a port without targetPort), 6060 (a slice naming the pod); not UDP 53, not another
            // namespace's Service, not the manual Service's own port 82.
            assertThat(stream.next().getPortsList()).extracting(p -> p.getPort()).containsExactly(6060, 8080, 9090);
            source.set(pod);
            assertThat(stream.next().getPortsList()).isEmpty();
        }
    }

    /** One web pod, a Server on its http port, and a policy admitting the callers of one MeshTLSAuthentication with {@code spec}. */
    private static String webServerAuthorizing(String meshTlsSpec) {
        return Manifests.app("emojivoto", "web-svc", "web", 1, 1, "") + """
                apiVersion: policy.trellis.dev/v1alpha1
                kind: Server
                metadata: {namespace: emojivoto, name: web-http}
                spec: {podSelector: {matchLabels: {app: web}}, port: http, protocol: http1}
                ---
                apiVersion: policy.trellis.dev/v1alpha1
                kind: MeshTLSAuthentication
                metadata: {namespace: emojivoto, name: clients}
                spec: %s
                ---
                apiVersion: policy.trellis.dev/v1alpha1
                kind: AuthorizationPolicy
                metadata: {namespace: emojivoto, name: web-from-clients}
                spec:
                  targetRef: {kind: Server, name: web-http}
                  requiredAuthenticationRefs: [{kind: MeshTLSAuthentication, name: clients}]
                """.formatted(meshTlsSpec);
    }
}
