package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A route timeout from the service's profile applies to gRPC calls carried per stream: DEADLINE_EXCEEDED from the proxy, early. */
class GrpcRouteTimeoutTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity SLOW = TestPki.identity("emojivoto", "slow");

    @TempDir
    Path dir;

    @Test
    void aProfileTimeoutEndsASlowGrpcCall() throws Exception {
        Server app = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new IdentityGrpc.IdentityImplBase() {
            @Override
            public void certify(CertifyRequest request, StreamObserver<CertifyResponse> responses) {
                try {
                    Thread.sleep(request.getIdentity().equals("slow") ? 2000 : 0);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                responses.onNext(CertifyResponse.getDefaultInstance());
                responses.onCompleted();
            }
        }).build().start();
        Path state = Files.createDirectories(dir.resolve("state"));
        try (MeshFixture mesh = new MeshFixture(dir);
             LocalDirectorySource cluster = LocalDirectorySource.start(state, Duration.ofMillis(50))) {
            try (DestinationServer destination = mesh.startDestination(cluster)) {
                int port = destination.grpcAddress().getPort();
                Proxy server = mesh.start(MeshFixture.withDestination(mesh.config(SLOW, List.of()), port, "slow-0"));
                Proxy client = mesh.start(MeshFixture.withDestination(mesh.config(WEB, List.of(
                        Forward.parse("0=http://slow-svc.emojivoto.svc.cluster.local:9090"))), port, "web-0"));
                int appPort = ((InetSocketAddress) app.getListenSockets().getFirst()).getPort();
                Files.writeString(state.resolve("app.yaml"), """
                        apiVersion: v1
                        kind: Service
                        metadata: {namespace: emojivoto, name: slow-svc}
                        spec: {ports: [{name: grpc, port: 9090}]}
                        ---
                        apiVersion: v1
                        kind: Pod
                        metadata: {namespace: emojivoto, name: slow-0, labels: {app: slow}, annotations: {config.trellis.dev/proxy-inbound-port: "%d"}}
                        spec: {serviceAccountName: slow, containers: [{name: app, image: slow, ports: [{name: grpc, containerPort: %d}]}]}
                        status: {podIP: 127.0.0.1}
                        ---
                        apiVersion: discovery.k8s.io/v1
                        kind: EndpointSlice
                        metadata: {namespace: emojivoto, name: slow-svc-1, labels: {kubernetes.io/service-name: slow-svc}}
                        addressType: IPv4
                        ports: [{name: grpc, port: %d}]
                        endpoints: [{addresses: [127.0.0.1], targetRef: {kind: Pod, namespace: emojivoto, name: slow-0}}]
                        ---
                        apiVersion: policy.trellis.dev/v1alpha1
                        kind: HTTPRoute
                        metadata: {namespace: emojivoto, name: slow-routes}
                        spec:
                          parentRefs: [{kind: Service, name: slow-svc, port: 9090}]
                          rules:
                            - name: certify
                              matches: [{path: {type: Exact, value: /trellis.identity.v1.Identity/Certify}, method: POST}]
                              timeout: 300ms
                        """.formatted(server.inboundAddress().getPort(), appPort, appPort));
                ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", client.forwardAddress(0).getPort()).usePlaintext().build();
                try {
                    IdentityGrpc.IdentityBlockingStub stub = IdentityGrpc.newBlockingStub(channel);
                    // Fast calls pass (and open the profile stream).
                    Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() ->
                            assertThat(stub.withDeadlineAfter(5, TimeUnit.SECONDS).certify(CertifyRequest.newBuilder().setIdentity("fast").build())).isNotNull());
                    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                        long started = System.nanoTime();
                        assertThatThrownBy(() -> stub.withDeadlineAfter(10, TimeUnit.SECONDS).certify(CertifyRequest.newBuilder().setIdentity("slow").build()))
                                .isInstanceOf(StatusRuntimeException.class)
                                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED))
                                .hasMessageContaining("timeout");
                        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(1500));
                    });
                } finally {
                    channel.shutdownNow();
                }
            }
        } finally {
            app.shutdownNow();
        }
    }
}
