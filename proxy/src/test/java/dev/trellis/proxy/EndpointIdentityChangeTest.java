package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12's security bug: discovery says the endpoint behind an address is now another
 * identity (its pod's service account was edited). The HTTP-aware path kept sending requests
 * over the connection it had verified against the old identity, for 20 s and more; every
 * request after the update must now go over a connection verified against the new one.
 */
class EndpointIdentityChangeTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final WorkloadIdentity VOTING = TestPki.identity("emojivoto", "voting");
    private static final String HOST = "emoji-svc.emojivoto.svc.cluster.local";

    @TempDir
    Path dir;

    private HttpServer app;
    private MeshFixture mesh;
    private Proxy server;
    private HttpClient http;

    /** web's proxy (outbound) and emoji's (serving an app that answers 200), discovery saying the endpoint is emoji. */
    @BeforeEach
    void start() throws Exception {
        app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.start();
        mesh = new MeshFixture(dir);
        Proxy client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(5)));
        // The server's proxy is, and stays, emoji.
        server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()));
        announce(EMOJI);
        http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow())).version(HttpClient.Version.HTTP_1_1).build();
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        app.stop(0);
    }

    @Test
    void noRequestIsServedByTheOldIdentityAfterTheUpdateArrives() throws Exception {
        for (int i = 0; i < 20; i++) {
            assertThat(status(http)).isEqualTo(200);
        }

        // Discovery now says the endpoint is voting: emoji's certificate no longer answers for it.
        announce(VOTING);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (status(http) == 200) {
            assertThat(System.nanoTime()).as("requests still served by emoji 10 s after discovery said voting").isLessThan(deadline);
            Thread.sleep(20);
        }
        for (int i = 0; i < 50; i++) {
            assertThat(status(http)).as("request %d after the update", i).isNotEqualTo(200);
        }

        // And back: a new connection, verified against emoji again.
        announce(EMOJI);
        deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (status(http) != 200) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    @Test
    void anEndpointDiscoveryNoLongerHoldsKeepsNoConnection() throws Exception {
        assertThat(status(http)).isEqualTo(200);
        assertThat(meshConnectionsFromWeb(server)).isEqualTo(1.0);

        // The pod is gone: the client proxy closes its connection to it (no idle connections to endpoints it no longer knows).
        mesh.destination.set(HOST + ":80", List.of());
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (meshConnectionsFromWeb(server) > 0) {
            assertThat(System.nanoTime()).as("web's connection to the removed endpoint still open after 10 s").isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    /** Discovery says the one endpoint of the service (the app, behind emoji's proxy) is {@code identity}. */
    private void announce(WorkloadIdentity identity) {
        mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), identity,
                server.inboundAddress().getPort())));
    }

    /** The server proxy's open inbound mTLS connections from web, from its own metrics. */
    private static double meshConnectionsFromWeb(Proxy server) throws Exception {
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://" + server.adminAddress().getHostString() + ":"
                + server.adminAddress().getPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        return metrics.lines().filter(l -> l.startsWith("tcp_open_connections{") && l.contains("direction=\"inbound\"")
                        && l.contains(WEB.spiffeId()) && l.contains("tls=\"true\""))
                .mapToDouble(EndpointIdentityChangeTest::sampleValue).sum();
    }

    /** The value of one Prometheus text sample line: what follows its last space. */
    private static double sampleValue(String line) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }

    private static int status(HttpClient http) throws Exception {
        HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.discarding());
        return response.statusCode();
    }
}
