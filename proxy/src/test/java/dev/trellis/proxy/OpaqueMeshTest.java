package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import dev.trellis.testing.TlsProbe;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.TrustAnchors;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpaqueMeshTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String AUTHORITY = "emoji-svc.emojivoto.svc.cluster.local:8080";

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();
    private MeshFixture mesh;
    private TcpServers app;
    private Proxy server;
    private Proxy client;

    @BeforeEach
    void startMesh() throws Exception {
        mesh = new MeshFixture(dir);
        app = TcpServers.echo();
        server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.port()));
        client = mesh.start(mesh.config(WEB, List.of(new Forward(new HostPort("127.0.0.1", 0), AUTHORITY))));
        announce(app.port(), EMOJI);
    }

    @AfterEach
    void stop() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        if (app != null) {
            app.close();
        }
    }

    @Test
    void aMegabyteEchoesIntactThroughBothProxiesAndTheServerSeesTheClientsIdentity() throws Exception {
        byte[] payload = new byte[1 << 20];
        new Random(42).nextBytes(payload);

        byte[] echoed = exchange(client.forwardAddress(0), payload);

        assertThat(Arrays.equals(echoed, payload)).as("echo is byte-for-byte identical").isTrue();
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(metrics(server))
                .contains("tcp_open_total{authority=\"" + AUTHORITY + "\",direction=\"inbound\",peer_id=\"" + WEB.spiffeId() + "\",tls=\"true\"} 1.0")
                .contains("tcp_read_bytes_total{authority=\"" + AUTHORITY + "\",direction=\"inbound\",peer_id=\"" + WEB.spiffeId() + "\",tls=\"true\"} 1048576.0"));
        assertThat(metrics(client)).contains("tcp_open_total{authority=\"" + AUTHORITY + "\",direction=\"outbound\",peer_id=\"" + EMOJI.spiffeId() + "\",tls=\"true\"} 1.0");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("web-connections.log")))
                .contains("\"source_identity\":\"" + WEB.spiffeId() + "\"")
                .contains("\"server_identity\":\"" + EMOJI.spiffeId() + "\"")
                .contains("\"bytes_sent\":1048576")
                .contains("\"decision\":\"allowed\""));
    }

    @Test
    void aClientThatEndsItsSideGetsEveryByteTheServerSendsAfterAndBothProxiesClose() throws Exception {
        byte[] payload = new byte[200_000];
        new Random(7).nextBytes(payload);
        try (Socket socket = connect(client.forwardAddress(0))) {
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    socket.getOutputStream().write(payload);
                    socket.shutdownOutput();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            // The echo server answers until the client's end reaches it, then closes: readAllBytes ends only then.
            byte[] echoed = socket.getInputStream().readAllBytes();
            writer.get(10, TimeUnit.SECONDS);
            assertThat(echoed.length).isEqualTo(payload.length);
            assertThat(Arrays.equals(echoed, payload)).as("echo is byte-for-byte identical").isTrue();
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(metrics(client)).contains("tcp_close_total{authority=\"" + AUTHORITY + "\",direction=\"outbound\",peer_id=\"" + EMOJI.spiffeId()
                    + "\",tls=\"true\"} 1.0");
            assertThat(metrics(server)).contains("tcp_close_total{authority=\"" + AUTHORITY + "\",direction=\"inbound\",peer_id=\"" + WEB.spiffeId()
                    + "\",tls=\"true\"} 1.0");
        });
    }

    @Test
    void aServerThatEndsItsSideFirstStillHearsEverythingTheClientSends() throws Exception {
        try (TcpServers first = TcpServers.saysAllFirst()) {
            WorkloadIdentity mail = TestPki.identity("emojivoto", "mail");
            Proxy mailServer = mesh.start(MeshFixture.declaring(mesh.config(mail, List.of()), first.port()));
            mesh.destination.set(AUTHORITY, List.of(FakeDestination.endpoint("127.0.0.1", first.port(), mail, mailServer.inboundAddress().getPort())));
            byte[] payload = new byte[100_000];
            new Random(9).nextBytes(payload);
            try (Socket socket = connect(client.forwardAddress(0))) {
                InputStream in = socket.getInputStream();
                assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).as("the server's words, then its end").isEqualTo("bye\r\n");
                socket.getOutputStream().write(payload);
                socket.shutdownOutput();
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(first.received()).isEqualTo(payload.length));
            }
        }
    }

    @Test
    void aConnectionRetriedAfterADeadEndpointGoesToAnotherOne() throws Exception {
        int deadProxyPort = TcpServers.refusingPort();
        // Two endpoints: the live one, and one whose proxy is gone (connection refused).
        mesh.destination.set(AUTHORITY, List.of(
                FakeDestination.endpoint("127.0.0.1", app.port(), EMOJI, server.inboundAddress().getPort()),
                FakeDestination.endpoint("127.0.0.2", app.port(), EMOJI, deadProxyPort)));
        byte[] payload = "ping".getBytes(StandardCharsets.US_ASCII);
        // The client resolves the authority at its first connection, so it sees both from the start.
        for (int i = 0; i < 30; i++) {
            assertThat(exchange(client.forwardAddress(0), payload)).as("connection %d", i).isEqualTo(payload);
        }
        assertThat(MeshFixture.metrics(client)).doesNotContain("tcp_refused_total{direction=\"outbound\",reason=\"connect_failed\"}");
    }

    @Test
    void aServerThatSpeaksFirstIsHeardWithoutWaitingForDetection() throws Exception {
        try (TcpServers banner = TcpServers.banner()) {
            Proxy bannerServer = mesh.start(MeshFixture.declaring(mesh.config(TestPki.identity("emojivoto", "mail"), List.of()), banner.port()));
            mesh.destination.set(AUTHORITY, List.of(FakeDestination.endpoint("127.0.0.1", banner.port(), TestPki.identity("emojivoto", "mail"),
                    bannerServer.inboundAddress().getPort())));
            long started = System.nanoTime();
            try (Socket socket = connect(client.forwardAddress(0))) {
                byte[] line = new byte["220 trellis-test ready\r\n".length()];
                socket.getInputStream().readNBytes(line, 0, line.length);
                assertThat(new String(line, StandardCharsets.US_ASCII)).isEqualTo("220 trellis-test ready\r\n");
            }
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    void anEndpointPresentingTheWrongIdentityIsRefused() throws Exception {
        announce(app.port(), TestPki.identity("emojivoto", "voting"));
        try (Socket socket = connect(client.forwardAddress(0))) {
            socket.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            int read;
            try {
                read = socket.getInputStream().read();
            } catch (java.net.SocketException reset) {
                read = -1;
            }
            assertThat(read).as("closed without an echo").isEqualTo(-1);
        }
        // One line, truthful: the endpoint proved another identity, and the line says which.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("web-connections.log")))
                .contains("\"decision\":\"identity_mismatch\"")
                .contains("tls: expected " + TestPki.identity("emojivoto", "voting").spiffeId() + ", the server presented " + EMOJI.spiffeId()));
        assertThat(Files.readString(dir.resolve("web-connections.log")).lines().filter(l -> l.contains("identity_mismatch")).count()).isEqualTo(1);
        assertThat(metrics(client)).contains("tcp_refused_total{direction=\"outbound\",reason=\"identity_mismatch\"} 1.0");
    }

    @Test
    void aPeerWithACertificateFromAnotherCaIsRefused() throws Exception {
        TestPki stranger = TestPki.create(Files.createDirectories(dir.resolve("stranger")));
        CredentialsStore strangerWeb = new CredentialsStore(WEB,
                TrustAnchors.of(List.of(stranger.anchor().certificate(), mesh.pki.anchor().certificate())), Clock.systemUTC());
        strangerWeb.install(stranger.credentialsFor(WEB, Duration.ofHours(1)));
        try (TlsProbe probe = new TlsProbe(MeshSslContexts.forClient(strangerWeb.trustAnchors(), Optional.of(strangerWeb), List.of("trellis.dev/tcp-v1"), Clock.systemUTC()))) {
            try {
                probe.exchange(server.inboundAddress(), EMOJI.dnsName(), "hello");
            } catch (Exception expected) {
                // refused, during or right after the handshake
            }
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(metrics(server)).contains("tcp_refused_total{direction=\"inbound\",reason=\"tls_handshake\"} 1.0"));
    }

    @Test
    void aClientThatEndsItsSideDuringTheHandshakeIsRefusedAtOnceNotAtTheHeaderDeadline() throws Exception {
        try (Socket socket = connect(server.inboundAddress())) {
            socket.getOutputStream().write(clientHello(EMOJI.dnsName()));
            socket.shutdownOutput();
            try {
                socket.getInputStream().readAllBytes();
            } catch (java.net.SocketException reset) {
                // closed: what matters is why, below
            }
        }
        // The header deadline (10 s) would refuse it as header_timeout; the end of its input refuses it now.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(metrics(server)).contains("tcp_refused_total{direction=\"inbound\",reason=\"tls_handshake\"} 1.0"));
    }

    @Test
    void plaintextOnTheInboundPortIsRefused() throws Exception {
        try (Socket socket = connect(server.inboundAddress())) {
            socket.getOutputStream().write("GET / HTTP/1.1\r\nHost: emoji\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(socket.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(metrics(server)).contains("tcp_refused_total{direction=\"inbound\",reason=\"no_identity\"} 1.0");
    }

    @Test
    void manyConnectionsInARowEachGetTheirOwnEcho() throws Exception {
        for (int i = 0; i < 30; i++) {
            assertThat(exchange(client.forwardAddress(0), ("n" + i).getBytes(StandardCharsets.US_ASCII))).asString().isEqualTo("n" + i);
        }
    }

    @Test
    void knownEndpointsKeepServingWhenTheDestinationServiceDies() throws Exception {
        assertThat(exchange(client.forwardAddress(0), "before".getBytes(StandardCharsets.US_ASCII))).asString().isEqualTo("before");
        mesh.destination.close();
        for (int i = 0; i < 5; i++) {
            assertThat(exchange(client.forwardAddress(0), ("after " + i).getBytes(StandardCharsets.US_ASCII))).asString().isEqualTo("after " + i);
        }
    }

    @Test
    void adminIsReadyWithACertificateAndHasNoDebugOrShutdownPages() throws Exception {
        assertThat(admin(server, "/ready").statusCode()).isEqualTo(200);
        assertThat(admin(server, "/debug/threads").statusCode()).isEqualTo(404);
        HttpResponse<String> shutdown = http.send(HttpRequest.newBuilder(adminUri(server, "/shutdown")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(shutdown.statusCode()).isEqualTo(404);
        assertThat(metrics(server)).contains("identity_cert_expiration_timestamp_seconds");
    }

    @Test
    void shutdownNeedsTheTokenFromAnOwnerOnlyFile() throws Exception {
        Path token = dir.resolve("shutdown.token");
        Files.writeString(token, "s3cret-token-of-32-characters-ok");
        Files.setPosixFilePermissions(token, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        ProxyConfig base = mesh.config(TestPki.identity("emojivoto", "voting"), List.of());
        ProxyConfig withShutdown = base.toBuilder().shutdownTokenFile(Optional.of(token)).tap(Optional.empty()).build();
        Proxy voting = mesh.start(withShutdown);

        assertThat(post(voting, "/shutdown", null).statusCode()).isEqualTo(401);
        assertThat(post(voting, "/shutdown", "wrong-token-wrong-token-wrong").statusCode()).isEqualTo(403);
        assertThat(admin(voting, "/live").statusCode()).isEqualTo(200);
        assertThat(post(voting, "/shutdown", "s3cret-token-of-32-characters-ok").statusCode()).isEqualTo(202);
        CompletableFuture.runAsync(() -> {
            try {
                voting.awaitTermination();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }).get(15, TimeUnit.SECONDS);

        Files.setPosixFilePermissions(token, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Proxy.start(withShutdown, Clock.systemUTC()))
                .hasMessageContaining("is readable by others");
    }

    @Test
    void shutdownLetsAnOpenConnectionFinishWhileRefusingNewOnes() throws Exception {
        try (Socket socket = connect(client.forwardAddress(0))) {
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write("first".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("first");

            CompletableFuture<Void> shutdown = CompletableFuture.runAsync(client::shutdown);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    org.assertj.core.api.Assertions.assertThatThrownBy(() -> connect(client.forwardAddress(0)).close())
                            .isInstanceOf(java.net.ConnectException.class));
            for (int i = 0; i < 10; i++) {
                String message = "during " + i;
                out.write(message.getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(in.readNBytes(message.length()), StandardCharsets.US_ASCII)).isEqualTo(message);
                Thread.sleep(50);
            }
            assertThat(shutdown).isNotDone();
            socket.close();
            shutdown.get(10, TimeUnit.SECONDS);
        }
    }

    // --- helpers ---

    private void announce(int appPort, WorkloadIdentity identity) {
        mesh.destination.set(AUTHORITY, List.of(FakeDestination.endpoint("127.0.0.1", appPort, identity, server.inboundAddress().getPort())));
    }

    /** A TLS ClientHello naming {@code serverName}, as the first flight a TLS client sends. */
    private static byte[] clientHello(String serverName) throws Exception {
        javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
        context.init(null, null, null);
        javax.net.ssl.SSLEngine engine = context.createSSLEngine(serverName, 443);
        engine.setUseClientMode(true);
        javax.net.ssl.SSLParameters parameters = engine.getSSLParameters();
        parameters.setServerNames(List.of(new javax.net.ssl.SNIHostName(serverName)));
        engine.setSSLParameters(parameters);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(java.nio.ByteBuffer.allocate(0), out);
        out.flip();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }

    private static Socket connect(InetSocketAddress address) throws Exception {
        Socket socket = new Socket(address.getAddress(), address.getPort());
        socket.setSoTimeout(10_000);
        return socket;
    }

    private static byte[] exchange(InetSocketAddress address, byte[] payload) throws Exception {
        try (Socket socket = connect(address)) {
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    out.write(payload);
                    out.flush();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            byte[] buffer = new byte[16384];
            while (received.size() < payload.length) {
                int n = in.read(buffer);
                if (n < 0) {
                    break;
                }
                received.write(buffer, 0, n);
            }
            writer.get(10, TimeUnit.SECONDS);
            return received.toByteArray();
        }
    }

    private URI adminUri(Proxy proxy, String path) {
        return URI.create("http://127.0.0.1:" + proxy.adminAddress().getPort() + path);
    }

    private HttpResponse<String> admin(Proxy proxy, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(adminUri(proxy, path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(Proxy proxy, String path, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(adminUri(proxy, path)).POST(HttpRequest.BodyPublishers.noBody());
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private String metrics(Proxy proxy) throws Exception {
        return admin(proxy, "/metrics").body();
    }
}
