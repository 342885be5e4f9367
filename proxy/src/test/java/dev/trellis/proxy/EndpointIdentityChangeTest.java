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

    @Test
    void noRequestIsServedByTheOldIdentityAfterTheUpdateArrives() throws Exception {
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.start();
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Proxy client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(5)));
            // The server's proxy is, and stays, emoji.
            Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()));
            int inbound = server.inboundAddress().getPort();
            mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, inbound)));
            HttpClient http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow()))
                    .version(HttpClient.Version.HTTP_1_1).build();
            for (int i = 0; i < 20; i++) {
                assertThat(status(http)).isEqualTo(200);
            }

            // Discovery now says the endpoint is voting: emoji's certificate no longer answers for it.
            mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), VOTING, inbound)));
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (status(http) == 200) {
                assertThat(System.nanoTime()).as("requests still served by emoji 10 s after discovery said voting").isLessThan(deadline);
                Thread.sleep(20);
            }
            for (int i = 0; i < 50; i++) {
                assertThat(status(http)).as("request %d after the update", i).isNotEqualTo(200);
            }

            // And back: a new connection, verified against emoji again.
            mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, inbound)));
            deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (status(http) != 200) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.sleep(20);
            }
        } finally {
            app.stop(0);
        }
    }

    @Test
    void anEndpointDiscoveryNoLongerHoldsKeepsNoConnection() throws Exception {
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.start();
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Proxy client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(5)));
            Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()));
            mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI,
                    server.inboundAddress().getPort())));
            HttpClient http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow()))
                    .version(HttpClient.Version.HTTP_1_1).build();
            assertThat(status(http)).isEqualTo(200);
            assertThat(meshConnectionsFromWeb(server)).isEqualTo(1.0);

            // The pod is gone: the client proxy closes its connection to it (no idle connections to endpoints it no longer knows).
            mesh.destination.set(HOST + ":80", List.of());
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (meshConnectionsFromWeb(server) > 0) {
                assertThat(System.nanoTime()).as("web's connection to the removed endpoint still open after 10 s").isLessThan(deadline);
                Thread.sleep(100);
            }
        } finally {
            app.stop(0);
        }
    }

    /** The server proxy's open inbound mTLS connections from web, from its own metrics. */
    private static double meshConnectionsFromWeb(Proxy server) throws Exception {
        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://" + server.adminAddress().getHostString() + ":"
                + server.adminAddress().getPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        return metrics.lines().filter(l -> l.startsWith("tcp_open_connections{") && l.contains("direction=\"inbound\"")
                        && l.contains(WEB.spiffeId()) && l.contains("tls=\"true\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    private static int status(HttpClient http) throws Exception {
        HttpResponse<Void> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.discarding());
        return response.statusCode();
    }
}
