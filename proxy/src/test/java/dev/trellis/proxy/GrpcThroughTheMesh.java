package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.trellis.api.identity.v1.CertifyRequest;
import dev.trellis.api.identity.v1.CertifyResponse;
import dev.trellis.api.identity.v1.IdentityGrpc;
import dev.trellis.api.tap.v1.ObserveRequest;
import dev.trellis.api.tap.v1.TapEvent;
import dev.trellis.api.tap.v1.TapGrpc;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC (HTTP/2) unary and streaming calls through a {@code --forward} port, two ways:
 * carried as one opaque connection, or proxied stream by stream ({@code http://} forward).
 */
abstract class GrpcThroughTheMesh {

    static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    static final String AUTHORITY = "grpc.emojivoto.svc.cluster.local:9090";

    @TempDir
    Path dir;

    private final boolean perStream;
    MeshFixture mesh;
    Server app;
    Proxy server;
    Proxy client;
    ManagedChannel channel;
    final java.util.concurrent.CopyOnWriteArrayList<String> seenClientIds = new java.util.concurrent.CopyOnWriteArrayList<>();

    GrpcThroughTheMesh(boolean perStream) {
        this.perStream = perStream;
    }

    @BeforeEach
    void start() throws Exception {
        mesh = new MeshFixture(dir);
        io.grpc.Metadata.Key<String> clientId = io.grpc.Metadata.Key.of("trellis-client-id", io.grpc.Metadata.ASCII_STRING_MARSHALLER);
        app = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .intercept(new io.grpc.ServerInterceptor() {
                    @Override
                    public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, io.grpc.Metadata headers,
                                                                             io.grpc.ServerCallHandler<Q, R> next) {
                        String id = headers.get(clientId);
                        if (id != null) {
                            seenClientIds.add(id);
                        }
                        return next.startCall(call, headers);
                    }
                })
                .addService(new IdentityGrpc.IdentityImplBase() {
                    @Override
                    public void certify(CertifyRequest request, StreamObserver<CertifyResponse> responses) {
                        responses.onNext(CertifyResponse.newBuilder().setLeafDer(request.getCsrDer()).build());
                        responses.onCompleted();
                    }
                })
                .addService(new TapGrpc.TapImplBase() {
                    @Override
                    public void observe(ObserveRequest request, StreamObserver<TapEvent> events) {
                        String padding = request.getMatch().getPathPrefix().isEmpty() ? "" : "x".repeat(32 * 1024);
                        for (int i = 0; i < request.getLimit(); i++) {
                            events.onNext(TapEvent.newBuilder().setStreamId(i)
                                    .setSource(dev.trellis.api.tap.v1.Peer.newBuilder().setAddress(padding)).build());
                        }
                        events.onCompleted();
                    }
                })
                .build().start();
        server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getPort()));
        client = mesh.start(mesh.config(WEB, List.of(new Forward(new HostPort("127.0.0.1", 0), AUTHORITY, perStream))));
        mesh.destination.set(AUTHORITY, List.of(FakeDestination.endpoint("127.0.0.1", app.getPort(), EMOJI, server.inboundAddress().getPort())));
        channel = NettyChannelBuilder.forAddress(client.forwardAddress(0)).usePlaintext().build();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        app.shutdownNow();
        mesh.close();
    }

    @Test
    void unaryCallsWithLargeMessagesPassIntact() {
        byte[] payload = new byte[2 * 1024 * 1024];
        new Random(3).nextBytes(payload);
        CertifyResponse response = IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .withMaxInboundMessageSize(8 * 1024 * 1024)
                .certify(CertifyRequest.newBuilder().setCsrDer(ByteString.copyFrom(payload)).build());
        assertThat(response.getLeafDer().toByteArray()).isEqualTo(payload);
    }

    @Test
    void thirtyTwoMegabytesStreamThroughFlowControlWithoutStalling() {
        Iterator<TapEvent> events = TapGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .observe(ObserveRequest.newBuilder().setLimit(1000)
                        .setMatch(dev.trellis.api.tap.v1.Match.newBuilder().setPathPrefix("pad")).build());
        long bytes = 0;
        int count = 0;
        while (events.hasNext()) {
            bytes += events.next().getSource().getAddress().length();
            count++;
        }
        assertThat(count).isEqualTo(1000);
        assertThat(bytes).isEqualTo(1000L * 32 * 1024);
    }

    @Test
    void serverStreamingCallsDeliverEveryMessageInOrder() {
        Iterator<TapEvent> events = TapGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .observe(ObserveRequest.newBuilder().setLimit(1000).build());
        List<Long> ids = new ArrayList<>();
        events.forEachRemaining(e -> ids.add(e.getStreamId()));
        assertThat(ids).hasSize(1000).isSorted();
        assertThat(ids.getLast()).isEqualTo(999);
    }
}
