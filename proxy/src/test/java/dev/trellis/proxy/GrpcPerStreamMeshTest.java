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

/** Proxied per HTTP/2 stream: each call balanced on its own, frames relayed both ways, the caller's identity told to the app. */
class GrpcPerStreamMeshTest extends GrpcThroughTheMesh {
    GrpcPerStreamMeshTest() {
        super(true);
    }

    @Test
    void anHttp2ClientThatEndsItsSideIsClosedNotHeldHalfOpen() throws Exception {
        // HTTP/2 ends with GOAWAY, not a FIN: the proxy allows half-closure from the accept (for
        // opaque and HTTP/1 clients), so the HTTP/2 path must close on a FIN instead of holding it.
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", client.forwardAddress(0).getPort())) {
            socket.setSoTimeout(10_000);
            java.io.OutputStream out = socket.getOutputStream();
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // an empty SETTINGS frame
            out.flush();
            socket.shutdownOutput();
            long started = System.nanoTime();
            socket.getInputStream().readAllBytes(); // the proxy's SETTINGS and GOAWAY, then its close
            assertThat(java.time.Duration.ofNanos(System.nanoTime() - started)).isLessThan(java.time.Duration.ofSeconds(5));
        }
    }

    @Test
    void theServerAppLearnsTheCallersIdentity() {
        IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).certify(CertifyRequest.getDefaultInstance());
        assertThat(seenClientIds).containsOnly(WEB.spiffeId());
    }

    @Test
    void callsBalancedOntoADeadEndpointGoToTheLiveOne() throws Exception {
        int deadProxyPort = TcpServers.refusingPort();
        // Two endpoints: the live one, and one whose proxy is gone (connection refused). No call was made yet,
        // so the client's first resolution sees both.
        mesh.destination.set(AUTHORITY, List.of(
                FakeDestination.endpoint("127.0.0.1", app.getPort(), EMOJI, server.inboundAddress().getPort()),
                FakeDestination.endpoint("127.0.0.2", app.getPort(), EMOJI, deadProxyPort)));
        for (int i = 0; i < 40; i++) {
            assertThat(IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .certify(CertifyRequest.newBuilder().setIdentity("call-" + i).build())).as("call %d", i).isNotNull();
        }
        assertThat(MeshFixture.metrics(client)).doesNotContain("request_refused_total{direction=\"outbound\",reason=\"connect_failed\"}");
    }

    @Test
    void concurrentCallsShareTheConnectionAndAllComplete() throws Exception {
        List<java.util.concurrent.Future<CertifyResponse>> calls = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            calls.add(IdentityGrpc.newFutureStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .certify(CertifyRequest.newBuilder().setIdentity("call-" + i).build()));
        }
        for (java.util.concurrent.Future<CertifyResponse> call : calls) {
            assertThat(call.get(10, TimeUnit.SECONDS)).isNotNull();
        }
    }
}

