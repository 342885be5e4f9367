package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.trellis.api.identity.v1.CertifyRequest;
import dev.trellis.api.identity.v1.CertifyResponse;
import dev.trellis.api.identity.v1.IdentityGrpc;
import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.destination.DestinationServer;
import dev.trellis.testing.TestPki;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retries of gRPC calls (HTTP/2 streams) by a GRPCRoute's retry policy, against real proxies
 * and the real destination service: a call that fails UNAVAILABLE once succeeds on its retry;
 * a body beyond the replay buffer is not sent again; a backend that always fails sees no more
 * than the retry budget allows, not the attempts times the calls.
 */
class GrpcRetryMeshTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private LocalDirectorySource cluster;
    private DestinationServer destination;
    private Server app;
    private ManagedChannel channel;
    private Path state;
    private final AtomicInteger calls = new AtomicInteger();
    private final Map<String, AtomicInteger> byId = new ConcurrentHashMap<>();
    /** Calls whose id starts with "always" fail every time; others fail their first try only. */
    private IdentityGrpc.IdentityBlockingStub identity;
    private int appPort;
    private int serverProxyPort;
    private Server shadowApp;
    private int shadowProxyPort;
    /** What the mirror's app saw: the id and the payload's size. */
    private final java.util.concurrent.BlockingQueue<String> shadowed = new java.util.concurrent.LinkedBlockingQueue<>();

    @BeforeEach
    void start() throws Exception {
        app = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new IdentityGrpc.IdentityImplBase() {
            @Override
            public void certify(CertifyRequest request, StreamObserver<CertifyResponse> responses) {
                calls.incrementAndGet();
                int seen = byId.computeIfAbsent(request.getIdentity(), k -> new AtomicInteger()).incrementAndGet();
                if (request.getIdentity().startsWith("always") || (seen == 1 && !request.getIdentity().startsWith("ok"))) {
                    responses.onError(Status.UNAVAILABLE.withDescription("try " + seen + " fails").asRuntimeException());
                    return;
                }
                responses.onNext(CertifyResponse.newBuilder().setLeafDer(ByteString.copyFromUtf8("try " + seen)).build());
                responses.onCompleted();
            }
        }).build().start();
        appPort = ((InetSocketAddress) app.getListenSockets().getFirst()).getPort();
        shadowApp = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new IdentityGrpc.IdentityImplBase() {
            @Override
            public void certify(CertifyRequest request, StreamObserver<CertifyResponse> responses) {
                shadowed.add(request.getIdentity() + " " + request.getCsrDer().size());
                responses.onError(Status.INTERNAL.withDescription("the shadow fails").asRuntimeException());
            }
        }).build().start();
        state = Files.createDirectories(dir.resolve("state"));
        mesh = new MeshFixture(dir);
        cluster = LocalDirectorySource.start(state, Duration.ofMillis(50));
        destination = mesh.startDestination(cluster);
        int port = destination.grpcAddress().getPort();
        Proxy server = mesh.start(MeshFixture.withDestination(mesh.config(EMOJI, List.of()), port, "emoji-0"));
        serverProxyPort = server.inboundAddress().getPort();
        shadowProxyPort = mesh.start(MeshFixture.withDestination(mesh.config(TestPki.identity("emojivoto", "shadow"), List.of()), port, "shadow-0"))
                .inboundAddress().getPort();
        Proxy client = mesh.start(MeshFixture.withDestination(mesh.config(WEB, List.of(
                Forward.parse("0=http://emoji-svc.emojivoto.svc.cluster.local:8080"))), port, "web-0"));
        channel = NettyChannelBuilder.forAddress("127.0.0.1", client.forwardAddress(0).getPort()).usePlaintext()
                .maxInboundMessageSize(1 << 20).build();
        identity = IdentityGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        mesh.close();
        destination.close();
        cluster.close();
        app.shutdownNow();
        shadowApp.shutdownNow();
    }

    private void write(String routeAnnotations) throws Exception {
        write(routeAnnotations, "");
    }

    private void write(String routeAnnotations, String filters) throws Exception {
        int shadowPort = ((InetSocketAddress) shadowApp.getListenSockets().getFirst()).getPort();
        Files.writeString(state.resolve("app.yaml"), """
                apiVersion: v1
                kind: Service
                metadata: {namespace: emojivoto, name: emoji-svc}
                spec: {ports: [{name: grpc, port: 8080}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {namespace: emojivoto, name: emoji-0, labels: {app: emoji}, annotations: {config.trellis.dev/proxy-inbound-port: "%d"}}
                spec: {serviceAccountName: emoji, containers: [{name: app, image: emoji, ports: [{name: grpc, containerPort: %d}]}]}
                status: {podIP: 127.0.0.1}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {namespace: emojivoto, name: emoji-svc-1, labels: {kubernetes.io/service-name: emoji-svc}}
                addressType: IPv4
                ports: [{name: grpc, port: %d}]
                endpoints: [{addresses: [127.0.0.1], targetRef: {kind: Pod, namespace: emojivoto, name: emoji-0}}]
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: GRPCRoute
                metadata:
                  namespace: emojivoto
                  name: emoji-retries
                  annotations: {%s}
                spec:
                  parentRefs: [{group: "", kind: Service, name: emoji-svc, port: 8080}]
                  rules: [{matches: [{method: {service: trellis.identity.v1.Identity}}]%s}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {namespace: emojivoto, name: shadow-svc}
                spec: {ports: [{name: grpc, port: 8080}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {namespace: emojivoto, name: shadow-0, labels: {app: shadow}, annotations: {config.trellis.dev/proxy-inbound-port: "%d"}}
                spec: {serviceAccountName: shadow, containers: [{name: app, image: shadow, ports: [{name: grpc, containerPort: %d}]}]}
                status: {podIP: 127.0.0.1}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {namespace: emojivoto, name: shadow-svc-1, labels: {kubernetes.io/service-name: shadow-svc}}
                addressType: IPv4
                ports: [{name: grpc, port: %d}]
                endpoints: [{addresses: [127.0.0.1], targetRef: {kind: Pod, namespace: emojivoto, name: shadow-0}}]
                """.formatted(serverProxyPort, appPort, appPort, routeAnnotations, filters, shadowProxyPort, shadowPort, shadowPort));
    }

    private CertifyResponse certify(String id, int payloadBytes) {
        return identity.withDeadlineAfter(10, TimeUnit.SECONDS).certify(CertifyRequest.newBuilder().setIdentity(id)
                .setCsrDer(ByteString.copyFrom(new byte[payloadBytes])).build());
    }

    /** Waits until the proxy follows the route: a call of a marker id is answered by the route's rule. */
    private void awaitRoute(String expectTry) {
        AtomicInteger marker = new AtomicInteger();
        Awaitility.await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() ->
                certify("marker-" + marker.incrementAndGet(), 10).getLeafDer().toStringUtf8().equals(expectTry));
    }

    @Test
    void aCallThatFailsUnavailableOnceSucceedsOnItsRetryAndOnlyThen() throws Exception {
        write("retry.trellis.dev/grpc: unavailable, retry.trellis.dev/limit: \"2\"");
        awaitRoute("try 2");
        assertThat(certify("small", 1000).getLeafDer().toStringUtf8()).isEqualTo("try 2");
        // A body beyond the replay buffer (64 KiB) is not kept, so the call is not sent again.
        assertThatThrownBy(() -> certify("large", 100 * 1024)).isInstanceOf(StatusRuntimeException.class)
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.UNAVAILABLE));
        assertThat(byId.get("large").get()).isEqualTo(1);
        // Without the policy, the first failure is the answer.
        write("retry.trellis.dev/http: \"503\"");
        Awaitility.await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> {
            String id = "probe-" + calls.get();
            try {
                certify(id, 10);
                return false;
            } catch (StatusRuntimeException e) {
                return Status.fromThrowable(e).getCode() == Status.Code.UNAVAILABLE;
            }
        });
    }

    @Test
    void aMirroredCallReachesTheMirrorAndTheCallerHearsOnlyThePrimary() throws Exception {
        write("retry.trellis.dev/grpc: unavailable", ", filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow-svc, port: 8080}}}]");
        awaitRoute("try 2");
        shadowed.clear();
        assertThat(certify("ok-mirrored", 2000).getLeafDer().toStringUtf8()).isEqualTo("try 1");
        String seen;
        do {
            seen = shadowed.poll(10, TimeUnit.SECONDS);
        } while (seen != null && seen.startsWith("marker-"));
        assertThat(seen).as("what the mirror saw").isEqualTo("ok-mirrored 2000");
    }

    @Test
    void aFailingBackendSeesNoMoreThanTheRetryBudgetAllows() throws Exception {
        write("retry.trellis.dev/grpc: unavailable, retry.trellis.dev/limit: \"3\"");
        awaitRoute("try 2");
        int before = calls.get();
        int sent = 600;
        for (int i = 0; i < sent; i++) {
            try {
                certify("always-" + i, 10);
            } catch (StatusRuntimeException expected) {
                assertThat(Status.fromThrowable(expected).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            }
        }
        int seen = calls.get() - before;
        // Up to 3 retries each would be 2,400 calls; the budget allows 20 % of requests plus 10 a second over its 10 s window.
        assertThat(seen).as("calls the backend saw for " + sent + " failing calls").isGreaterThan(sent).isLessThanOrEqualTo(sent + sent / 5 + 100 + 20);
    }
}
