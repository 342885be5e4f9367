package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.transport.MeshProtocols;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.RawH2Client;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Answers the inbound side gives when the app or the caller misbehaves: prompt, and the proxy's own. */
class InboundAnswersTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String HOST = "emoji-svc.emojivoto.svc.cluster.local";

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private ServerSocket notHttp;
    private HttpServer app;
    private Proxy server;
    private Proxy client;

    @BeforeEach
    void start() throws Exception {
        mesh = new MeshFixture(dir);
        // An app that answers every connection with bytes that are not HTTP (an SSH banner on a port declared as HTTP).
        notHttp = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!notHttp.isClosed()) {
                try (Socket s = notHttp.accept(); OutputStream out = s.getOutputStream()) {
                    out.write("SSH-2.0-OpenSSH_9.2\r\nProtocol mismatch.\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    Thread.sleep(200);
                } catch (Exception e) {
                    // next
                }
            }
        });
        app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.start();
        server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), notHttp.getLocalPort(), app.getAddress().getPort()));
        client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(5)));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        notHttp.close();
        app.stop(0);
    }

    @Test
    void anAppThatAnswersSomethingOtherThanHttpGets502FromTheProxyNotStatus999() throws Exception {
        mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", notHttp.getLocalPort(), EMOJI, server.inboundAddress().getPort())));
        HttpClient http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow())).version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(502);
        assertThat(response.headers().firstValue("trellis-proxy-error")).contains("app sent a malformed response");
    }

    @Test
    void anHttp2RequestToAnAppThatIsNotHttpGets502WithTheReasonAsHttp1Does() throws Exception {
        mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", notHttp.getLocalPort(), EMOJI, server.inboundAddress().getPort())));
        // A client of HTTP/2 with prior knowledge (gRPC, h2c) through the HTTP forward: its streams reach the app as HTTP/2.
        Proxy h2Client = mesh.start(mesh.config(TestPki.identity("emojivoto", "vote"), List.of(new dev.trellis.proxy.Forward(
                new HostPort("127.0.0.1", 0), HOST + ":80", true))));
        try (RawH2Client h2 = new RawH2Client(h2Client.forwardAddress(0), null, null)) {
            Http2Headers answer = h2.request(RawH2Client.get(HOST, "/"), true).get(10, TimeUnit.SECONDS);
            assertThat(answer.status().toString()).isEqualTo("502");
            assertThat(answer.get("trellis-proxy-error")).hasToString("app sent a malformed response");
            assertThat(h2.resetsReceived()).isZero();
        }
        assertThat(MeshFixture.metrics(server)).contains("request_refused_total{direction=\"inbound\",reason=\"app_bad_response\"} 1.0");
    }

    @Test
    void anHttp2RequestWhoseAnswerCannotBeConvertedIsAnsweredAtOnce() throws Exception {
        CredentialsStore web = new CredentialsStore(WEB, mesh.pki.trustAnchors(), Clock.systemUTC());
        web.install(mesh.pki.credentialsFor(WEB, Duration.ofHours(1)));
        try (RawH2Client h2 = new RawH2Client(server.inboundAddress(),
                MeshSslContexts.forClient(mesh.pki.trustAnchors(), Optional.of(web), List.of(MeshProtocols.HTTP2), Clock.systemUTC()), EMOJI.dnsName())) {
            long started = System.nanoTime();
            Http2Headers answer = h2.request(RawH2Client.get(HOST, "/a b", "trellis-target-port", String.valueOf(app.getAddress().getPort())), true)
                    .get(5, TimeUnit.SECONDS);
            assertThat(answer.status().toString()).isEqualTo("400");
            assertThat(answer.get("trellis-proxy-error")).hasToString("malformed request");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
            // The connection still serves.
            Http2Headers fine = h2.request(RawH2Client.get(HOST, "/ok", "trellis-target-port", String.valueOf(app.getAddress().getPort())), true)
                    .get(5, TimeUnit.SECONDS);
            assertThat(fine.status().toString()).isEqualTo("200");
        }
    }
}
