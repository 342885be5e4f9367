package dev.trellis.wire.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.trellis.api.identity.v1.CertifyRequest;
import dev.trellis.api.identity.v1.CertifyResponse;
import dev.trellis.api.identity.v1.IdentityGrpc;
import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.PolicyGrpc;
import dev.trellis.api.policy.v1.Workload;
import dev.trellis.api.server.MeshGrpcServers;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The proxy's gRPC client against grpc-java's own server on loopback (plaintext here; the
 * proxy's and identity client's tests run it over mutual TLS against the real control plane).
 */
class GrpcClientTest {

    private static final String CERTIFY = dev.trellis.wire.identity.IdentityService.CERTIFY;
    private static final String WATCH_EGRESS = dev.trellis.wire.policy.PolicyService.WATCH_EGRESS;

    private final EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final ExecutorService callbacks = Executors.newSingleThreadExecutor();
    private final CountDownLatch cancelled = new CountDownLatch(1);
    private final List<String> told = new CopyOnWriteArrayList<>();
    private Server server;
    private GrpcClient client;

    @BeforeEach
    void start() throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new IdentityGrpc.IdentityImplBase() {
                    @Override
                    public void certify(CertifyRequest request, StreamObserver<CertifyResponse> responses) {
                        switch (request.getToken()) {
                            case "refuse" -> responses.onError(Status.PERMISSION_DENIED
                                    .withDescription("identity: token for sa/web cannot request sa/db — ünïcode 100%").asRuntimeException());
                            case "big" -> {
                                responses.onNext(CertifyResponse.newBuilder().setLeafDer(ByteString.copyFrom(new byte[70_000])).build());
                                responses.onCompleted();
                            }
                            case "slow" -> { }
                            default -> {
                                responses.onNext(CertifyResponse.newBuilder().setLeafDer(request.getCsrDer()).build());
                                responses.onCompleted();
                            }
                        }
                    }
                })
                .addService(new PolicyGrpc.PolicyImplBase() {
                    @Override
                    public void watchEgress(Workload request, StreamObserver<EgressPolicy> responses) {
                        ServerCallStreamObserver<EgressPolicy> call = (ServerCallStreamObserver<EgressPolicy>) responses;
                        call.setOnCancelHandler(cancelled::countDown);
                        for (int i = 0; i < 3; i++) {
                            call.onNext(EgressPolicy.newBuilder().putLabels("name", request.getName() + "-" + i).build());
                        }
                        if (request.getName().equals("ending")) {
                            call.onError(Status.NOT_FOUND.withDescription("no workload ending").asRuntimeException());
                        }
                    }
                })
                .maxConcurrentCallsPerConnection(MeshGrpcServers.MAX_CALLS_PER_CONNECTION)
                .build().start();
        client = client(server.getPort(), 64 * 1024);
    }

    private GrpcClient client(int port, int maxMessageBytes) {
        return new GrpcClient(new GrpcClient.Config("127.0.0.1", port, "identity.test", Optional.empty(), loop, NioSocketChannel.class, callbacks,
                maxMessageBytes, Duration.ofSeconds(5)));
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        callbacks.shutdownNow();
    }

    private CompletableFuture<dev.trellis.wire.identity.CertifyResponse> certify(GrpcClient on, String token, Duration deadline) {
        return on.unary(CERTIFY, new dev.trellis.wire.identity.CertifyRequest("spiffe://x/ns/a/sa/b", token, new byte[] {7, 7}),
                dev.trellis.wire.identity.CertifyResponse::read, deadline);
    }

    private static GrpcStatus statusOf(CompletableFuture<?> call) {
        try {
            call.get(10, TimeUnit.SECONDS);
            throw new AssertionError("the call succeeded");
        } catch (ExecutionException e) {
            return ((GrpcException) e.getCause()).status();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** A stream listener that records each message's name label in {@link #told} and hands the status on. */
    private GrpcClient.Listener<dev.trellis.wire.policy.EgressPolicy> recording(java.util.function.Consumer<GrpcStatus> onClose) {
        return new GrpcClient.Listener<>() {
            @Override
            public void onMessage(dev.trellis.wire.policy.EgressPolicy message) {
                told.add(message.label("name"));
            }

            @Override
            public void onClose(GrpcStatus status) {
                onClose.accept(status);
            }
        };
    }

    @Test
    void aUnaryCallGetsItsAnswerAndTheConnectionIsReused() throws Exception {
        assertThat(certify(client, "ok", Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS).leafDer()).containsExactly(7, 7);
        assertThat(certify(client, "ok", Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS).leafDer()).containsExactly(7, 7);
    }

    @Test
    void aRefusalKeepsItsCodeAndItsWholeDescription() {
        GrpcStatus status = statusOf(certify(client, "refuse", Duration.ofSeconds(5)));
        assertThat(status.code()).isEqualTo(GrpcStatus.Code.PERMISSION_DENIED);
        assertThat(status.description()).isEqualTo("identity: token for sa/web cannot request sa/db — ünïcode 100%");
    }

    @Test
    void aResponseOverTheLimitEndsTheCallResourceExhausted() {
        GrpcStatus status = statusOf(certify(client, "big", Duration.ofSeconds(5)));
        assertThat(status.code()).isEqualTo(GrpcStatus.Code.RESOURCE_EXHAUSTED);
        assertThat(status.description()).contains("over the 65536-byte limit");
    }

    @Test
    void anUnansweredCallEndsAtItsDeadline() {
        GrpcStatus status = statusOf(certify(client, "slow", Duration.ofMillis(300)));
        assertThat(status.code()).isEqualTo(GrpcStatus.Code.DEADLINE_EXCEEDED);
    }

    @Test
    void noServerIsUnavailableAndNamesTheAddress() throws Exception {
        // Port 1 on loopback, where nothing listens: a port a stopped server freed can be taken by
        // another test's server meanwhile (CI saw that).
        int port = 1;
        GrpcClient nowhere = client(port, 1024);
        GrpcStatus status = statusOf(certify(nowhere, "ok", Duration.ofSeconds(5)));
        assertThat(status.code()).isEqualTo(GrpcStatus.Code.UNAVAILABLE);
        assertThat(status.description()).startsWith("cannot reach 127.0.0.1:" + port + " (identity.test)");
        nowhere.close();
    }

    @Test
    void aClosedConnectionIsMadeAgainByTheNextCall() throws Exception {
        assertThat(certify(client, "ok", Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS)).isNotNull();
        int port = server.getPort();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        assertThat(statusOf(certify(client, "ok", Duration.ofSeconds(5))).code()).isEqualTo(GrpcStatus.Code.UNAVAILABLE);
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port)).addService(new IdentityGrpc.IdentityImplBase() {
            @Override
            public void certify(CertifyRequest request, StreamObserver<CertifyResponse> responses) {
                responses.onNext(CertifyResponse.newBuilder().setLeafDer(ByteString.copyFromUtf8("again")).build());
                responses.onCompleted();
            }
        }).build().start();
        assertThat(certify(client, "ok", Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS).leafDer()).isEqualTo("again".getBytes());
    }

    @Test
    void aServerStreamDeliversEveryMessageInOrderThenItsStatus() throws Exception {
        CompletableFuture<GrpcStatus> ended = new CompletableFuture<>();
        client.serverStream(WATCH_EGRESS, new dev.trellis.wire.policy.Workload("shop", "ending"), dev.trellis.wire.policy.EgressPolicy::read,
                recording(ended::complete));
        GrpcStatus status = ended.get(10, TimeUnit.SECONDS);
        assertThat(told).containsExactly("ending-0", "ending-1", "ending-2");
        assertThat(status).isEqualTo(status).extracting(GrpcStatus::code).isEqualTo(GrpcStatus.Code.NOT_FOUND);
        assertThat(status.description()).isEqualTo("no workload ending");
    }

    @Test
    void cancellingAStreamCancelsItOnTheServerAndTellsTheListenerOnce() throws Exception {
        List<GrpcStatus> closes = new CopyOnWriteArrayList<>();
        GrpcClient.Call call = client.serverStream(WATCH_EGRESS, new dev.trellis.wire.policy.Workload("shop", "open"),
                dev.trellis.wire.policy.EgressPolicy::read, recording(closes::add));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> told.size() == 3);
        call.cancel("the watch is closed");
        assertThat(cancelled.await(10, TimeUnit.SECONDS)).as("the server saw the cancellation").isTrue();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !closes.isEmpty());
        Thread.sleep(200);
        assertThat(closes).extracting(GrpcStatus::code).containsExactly(GrpcStatus.Code.CANCELLED);
    }

    @Test
    void afterGoAwayNewCallsGoOnANewConnectionWhileTheOpenStreamGoesOn() throws Exception {
        List<GrpcStatus> closes = new CopyOnWriteArrayList<>();
        client.serverStream(WATCH_EGRESS, new dev.trellis.wire.policy.Workload("shop", "open"), dev.trellis.wire.policy.EgressPolicy::read,
                recording(closes::add));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> told.size() == 3);
        server.shutdown();   // graceful: GOAWAY, no new connections, the open call goes on
        // New calls leave the draining connection: here, with nothing listening any more, they cannot reach the server
        // (behind a Service they would reach another replica); on the old connection they would fail to open a stream.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> statusOf(certify(client, "ok", Duration.ofSeconds(5))).description().startsWith("cannot reach"));
        assertThat(closes).as("the stream opened before GOAWAY is still open").isEmpty();
    }

    /** A relay to the server that can go silent without closing: a network that drops a dead node's packets. */
    private static final class Silence implements AutoCloseable {
        private final java.net.ServerSocket listener = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        private final List<java.net.Socket> sockets = new CopyOnWriteArrayList<>();
        private volatile boolean silent;

        Silence(int target) throws java.io.IOException {
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        java.net.Socket down = listener.accept();
                        java.net.Socket up = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), target);
                        sockets.add(down);
                        sockets.add(up);
                        Thread.ofVirtual().start(() -> pump(down, up));
                        Thread.ofVirtual().start(() -> pump(up, down));
                    }
                } catch (java.io.IOException closed) {
                    // the test is over
                }
            });
        }

        private void pump(java.net.Socket from, java.net.Socket to) {
            byte[] buffer = new byte[16 * 1024];
            try {
                for (int n; (n = from.getInputStream().read(buffer)) > 0; ) {
                    if (!silent) {
                        to.getOutputStream().write(buffer, 0, n);
                    }
                }
            } catch (java.io.IOException closed) {
                // either side went away
            }
        }

        int port() {
            return listener.getLocalPort();
        }

        @Override
        public void close() throws java.io.IOException {
            listener.close();
            for (java.net.Socket socket : sockets) {
                socket.close();
            }
        }
    }

    @Test
    void aServerThatFallsSilentIsPingedAndItsConnectionClosed() throws Exception {
        try (Silence relay = new Silence(server.getPort())) {
            GrpcClient pinging = new GrpcClient(new GrpcClient.Config("127.0.0.1", relay.port(), "identity.test", Optional.empty(), loop,
                    NioSocketChannel.class, callbacks, 64 * 1024, Duration.ofSeconds(5)), Duration.ofMillis(300), Duration.ofMillis(300));
            List<GrpcStatus> closes = new CopyOnWriteArrayList<>();
            pinging.serverStream(WATCH_EGRESS, new dev.trellis.wire.policy.Workload("shop", "open"), dev.trellis.wire.policy.EgressPolicy::read,
                    recording(closes::add));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> told.size() == 3);
            Thread.sleep(1_000);
            assertThat(closes).as("a quiet but answering server keeps its connection (pings answered)").isEmpty();
            relay.silent = true;
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !closes.isEmpty());
            assertThat(closes.getFirst().code()).isEqualTo(GrpcStatus.Code.UNAVAILABLE);
            pinging.close();
        }
    }

    @Test
    void aClosedClientRefusesNewCalls() {
        client.close();
        assertThatThrownBy(() -> certify(client, "ok", Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS))
                .hasCauseInstanceOf(GrpcException.class).hasMessageContaining("the client is closed");
    }
}
