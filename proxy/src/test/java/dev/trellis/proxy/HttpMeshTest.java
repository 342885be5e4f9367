package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HTTP/1.1 from an app, through its proxy (used as an HTTP proxy), over h2 + mTLS, to the server app. */
class HttpMeshTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String HOST = "emoji-http.emojivoto.svc.cluster.local";

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private HttpServer app;
    private Proxy server;
    private Proxy client;
    private HttpClient http;

    @BeforeEach
    void start() throws Exception {
        mesh = new MeshFixture(dir);
        app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/hello", exchange -> {
            byte[] body = ("hello " + exchange.getRequestHeaders().getFirst("trellis-client-id")).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.createContext("/echo", exchange -> {
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
                body = in.readAllBytes();
            }
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        app.createContext("/headers", exchange -> {
            byte[] body = String.join(",", exchange.getRequestHeaders().keySet()).toLowerCase(java.util.Locale.ROOT).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.createContext("/slow", exchange -> {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        app.start();
        server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()));
        client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(1)));
        mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, server.inboundAddress().getPort())));
        http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow())).version(HttpClient.Version.HTTP_1_1).build();
    }

    @AfterEach
    void stop() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
        if (app != null) {
            app.stop(0);
        }
    }

    /** Tap (the proxy's own gRPC server, no grpc-java) answers viz's grpc-java client: matching requests up to the limit, then OK. */
    @Test
    void theVizIdentityTapsMatchingRequestsUpToItsLimitAndTheTapEndsOk() throws Exception {
        WorkloadIdentity viz = TestPki.identity("trellis", "trellis-viz");
        dev.trellis.tls.context.CredentialsStore store = new dev.trellis.tls.context.CredentialsStore(viz, mesh.pki.trustAnchors(), java.time.Clock.systemUTC());
        store.install(mesh.pki.credentialsFor(viz, Duration.ofHours(1)));
        java.util.List<dev.trellis.api.tap.v1.TapEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        var ended = new java.util.concurrent.CompletableFuture<String>();
        try (AutoCloseable tap = new dev.trellis.viz.TapClient(dev.trellis.tls.context.MeshSslContexts.forGrpcClient(mesh.pki.trustAnchors(),
                Optional.of(store), java.time.Clock.systemUTC())).observe(server.tapAddress().orElseThrow(), EMOJI,
                dev.trellis.api.tap.v1.Match.newBuilder().setPathPrefix("/hello").build(), 2, events::add, ended::complete)) {
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                get("/echo");   // not matched
                get("/hello");
                return ended.isDone();
            });
        }
        assertThat(ended.get()).isEqualTo("done");
        assertThat(events).extracting(e -> e.getEventCase().name()).containsExactly("REQUEST_INIT", "RESPONSE_INIT", "RESPONSE_END",
                "REQUEST_INIT", "RESPONSE_INIT", "RESPONSE_END");
        dev.trellis.api.tap.v1.TapEvent first = events.getFirst();
        assertThat(first.getDirection()).isEqualTo(dev.trellis.api.tap.v1.TapEvent.Direction.INBOUND);
        assertThat(first.getRequestInit().getPath()).isEqualTo("/hello");
        assertThat(first.getSource().getIdentity()).isEqualTo(WEB.spiffeId());
        assertThat(first.getDestination().getIdentity()).isEqualTo(EMOJI.spiffeId());
        assertThat(events.get(1).getResponseInit().getStatus()).isEqualTo(200);
    }

    @Test
    void aRequestReachesTheServerAppWhichLearnsTheCallersIdentity() throws Exception {
        HttpResponse<String> response = get("/hello");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("hello " + WEB.spiffeId());
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(metrics(client))
                .contains("response_total{authority=\"" + HOST + ":80\",classification=\"success\",direction=\"outbound\",status_code=\"200\"} 1.0"));
        assertThat(metrics(server)).contains("response_total{authority=\"" + HOST + "\",classification=\"success\",direction=\"inbound\",status_code=\"200\"} 1.0");
    }

    @Test
    void theHttp2ConversionHeadersReachNeitherTheAppNorTheClient() throws Exception {
        // The HTTP/2-to-HTTP/1 conversion on each proxy writes x-http2-* headers (stream id,
        // scheme); they stay inside the proxies, and so does one a client sends itself.
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/headers"))
                .header("X-Http2-Path", "/elsewhere").header("x-http2-stream-id", "7").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("trellis-client-id").doesNotContain("x-http2-");
        assertThat(response.headers().map().keySet()).noneMatch(name -> name.toLowerCase(java.util.Locale.ROOT).startsWith("x-http2-"));
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrderOnTheirConnection() throws Exception {
        // Three requests in one write, the last closing the connection: the proxy reads on while
        // the first is answered and must keep the answers in the order the requests came.
        String target = "http://" + HOST;
        String requests = "POST " + target + "/echo HTTP/1.1\r\nHost: " + HOST + "\r\nContent-Length: 5\r\n\r\nfirst"
                + "GET " + target + "/hello HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n"
                + "POST " + target + "/echo HTTP/1.1\r\nHost: " + HOST + "\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthird";
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", client.outboundAddress().orElseThrow().getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(requests.getBytes(StandardCharsets.US_ASCII));
            String answers = new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answers.split("HTTP/1.1 200 ", -1)).as(answers).hasSize(4);
            int first = answers.indexOf("\r\n\r\nfirst");
            int hello = answers.indexOf("hello " + WEB.spiffeId());
            int third = answers.indexOf("\r\n\r\nthird");
            assertThat(first).as(answers).isPositive();
            assertThat(hello).as(answers).isGreaterThan(first);
            assertThat(third).as(answers).isGreaterThan(hello);
        }
    }

    @Test
    void aClientThatHalfClosesAfterItsRequestStillGetsTheAnswer() throws Exception {
        // Some clients send their request and shut their side down; the proxy reads on while it
        // answers, and that end of input must not cancel the request in flight.
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", client.outboundAddress().orElseThrow().getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET http://" + HOST + "/hello HTTP/1.1\r\nHost: " + HOST + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            socket.shutdownOutput();
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 200").contains("hello " + WEB.spiffeId());
        }
    }

    @Test
    void anHttpConnectionIsLoggedWhenItCloses() throws Exception {
        // One request on a connection of its own that closes after it, so the connection ends.
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", client.outboundAddress().orElseThrow().getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET http://" + HOST + "/hello HTTP/1.1\r\nHost: " + HOST + "\r\nConnection: close\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("web-connections.log")))
                .contains("\"protocol\":\"http1\"")
                .contains("\"tls\":true")
                .containsPattern("\"bytes_sent\":[1-9]")
                .containsPattern("\"bytes_received\":[1-9]")
                .contains("\"decision\":\"allowed\""));
    }

    @Test
    void anAppResettingItsConnectionIsNotAWarning() throws Exception {
        // Load tools reset their connections when they stop; each reset used to reach the end of
        // the pipeline unhandled and print a Netty warning, one per connection.
        java.io.PrintStream original = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            for (int i = 0; i < 3; i++) {
                try (java.net.Socket socket = new java.net.Socket("127.0.0.1", client.outboundAddress().orElseThrow().getPort())) {
                    socket.setSoTimeout(10_000);
                    socket.getOutputStream().write(("GET http://" + HOST + "/hello HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    byte[] answer = new byte[4096];
                    int read = socket.getInputStream().read(answer);
                    assertThat(new String(answer, 0, read, StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
                    socket.setSoLinger(true, 0);   // close with a reset
                }
            }
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readAllLines(dir.resolve("web-connections.log")))
                    .filteredOn(line -> line.contains("\"protocol\":\"http1\"")).hasSizeGreaterThanOrEqualTo(3));
            Thread.sleep(200);
        } finally {
            System.setErr(original);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8).lines())
                .noneMatch(line -> line.contains("reached at the tail of the pipeline"))
                .noneMatch(line -> line.contains("WARN") && line.contains("reset"));
    }

    @Test
    void aConnectionsDurationCountsFromItsAcceptanceNotFromItsDetection() throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", client.outboundAddress().orElseThrow().getPort())) {
            socket.setSoTimeout(10_000);
            // Silent for 1.5 s: the proxy waits that long to learn the protocol.
            Thread.sleep(1500);
            socket.getOutputStream().write(("GET http://" + HOST + "/hello HTTP/1.1\r\nHost: " + HOST + "\r\nConnection: close\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("web-connections.log")))
                .containsPattern("\"protocol\":\"http1\".*\"duration_ms\":(1[5-9][0-9]{2}|[2-9][0-9]{3}|[0-9]{5,})[,}]"));
    }

    @Test
    void everyRefusedRequestHasALineOfItsOwnAndAnAllRefusedConnectionIsNotLoggedAllowed() throws Exception {
        mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(),
                TestPki.identity("emojivoto", "voting"), server.inboundAddress().getPort())));
        // Two requests on one connection: the first to an endpoint with the wrong identity, the second to an unknown name.
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", client.outboundAddress().orElseThrow().getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET http://" + HOST + "/hello HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n"
                    + "GET http://nowhere.emojivoto.svc.cluster.local/ HTTP/1.1\r\nHost: nowhere.emojivoto.svc.cluster.local\r\nConnection: close\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String answers = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
            assertThat(answers).startsWith("HTTP/1.1 502").contains("trellis-proxy-error: identity mismatch").contains("HTTP/1.1 503");
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            List<String> lines = Files.readAllLines(dir.resolve("web-connections.log"));
            assertThat(lines).as("%s", lines).filteredOn(l -> l.contains("\"event\":\"outbound_request\""))
                    .satisfiesExactly(
                            mismatch -> assertThat(mismatch).contains("\"authority\":\"" + HOST + ":80\"").contains("\"decision\":\"identity_mismatch\"")
                                    .contains("tls: expected " + TestPki.identity("emojivoto", "voting").spiffeId() + ", the server presented " + EMOJI.spiffeId()),
                            unknown -> assertThat(unknown).contains("\"authority\":\"nowhere.emojivoto.svc.cluster.local:80\"")
                                    .contains("\"decision\":\"no_endpoints\"").contains("is unknown to discovery"));
            assertThat(lines).filteredOn(l -> l.contains("\"event\":\"outbound_connection\""))
                    .singleElement().satisfies(connection -> assertThat(connection).contains("\"decision\":\"no_endpoints\"")
                            .contains("every request was refused by the proxy"));
        });
        assertThat(MeshFixture.metrics(client)).contains("request_refused_total{direction=\"outbound\",reason=\"identity_mismatch\"} 1.0");
    }

    @Test
    void anEndpointWithoutAProxySaysItIsNotMeshed() throws Exception {
        // A local-mode Pod without its proxy's inbound-port annotation: discovery lists it, without an identity.
        mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), null, 0)));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            HttpResponse<String> response = get("/hello");
            assertThat(response.statusCode()).isEqualTo(503);
            assertThat(response.headers().firstValue("trellis-proxy-error")).contains("endpoint not meshed");
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("web-connections.log")))
                .contains("\"decision\":\"endpoint_not_meshed\"").contains("config.trellis.dev/proxy-inbound-port annotation"));
    }

    @Test
    void aClientCannotForgeTheIdentityHeader() throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/hello"))
                .header("trellis-client-id", "spiffe://cluster.local/ns/kube-system/sa/admin").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.body()).isEqualTo("hello " + WEB.spiffeId());
    }

    @Test
    void aMegabyteBodyGoesThereAndBackIntact() throws Exception {
        byte[] body = new byte[1 << 20];
        new Random(7).nextBytes(body);
        HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/echo"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(Arrays.equals(response.body(), body)).isTrue();
    }

    @Test
    void manyRequestsInARowShareConnections() throws Exception {
        for (int i = 0; i < 50; i++) {
            assertThat(get("/hello").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void anUnknownAuthorityGets503WithTheCause() throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://nowhere.emojivoto.svc.cluster.local/hello")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(response.headers().firstValue("trellis-proxy-error")).contains("no endpoints");
    }

    @Test
    void aSlowAnswerGets504WithTheCause() throws Exception {
        HttpResponse<String> response = get("/slow");
        assertThat(response.statusCode()).isEqualTo(504);
        assertThat(response.headers().firstValue("trellis-proxy-error")).contains("timeout");
        assertThat(get("/hello").statusCode()).as("the proxy still serves").isEqualTo(200);
    }

    @Test
    void anEndpointWithTheWrongIdentityGets502() throws Exception {
        mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(),
                TestPki.identity("emojivoto", "voting"), server.inboundAddress().getPort())));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            HttpResponse<String> response = get("/hello");
            assertThat(response.statusCode()).isEqualTo(502);
            assertThat(response.headers().firstValue("trellis-proxy-error")).contains("identity mismatch");
        });
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String metrics(Proxy proxy) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.adminAddress().getPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
