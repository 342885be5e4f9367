package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The identity-laundering attack an outside review found, as it ran on {@code trellis demo}:
 * {@code vote-bot} may not call {@code voting}, but it may call {@code web}; so it asked
 * {@code web}'s inbound port for {@code web}'s own forward to voting, which then called
 * voting as {@code web}. Here {@code vote-bot}'s proxy is pointed at {@code web}'s inbound
 * port with that forward's port (opaque TCP and HTTP/2 alike), and at a loopback port
 * {@code web} never declared: each is refused, counted and logged, and voting's app never
 * hears of it, while {@code web}'s declared port still works.
 */
class InboundLaunderingTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity VOTING = TestPki.identity("emojivoto", "voting");
    private static final WorkloadIdentity VOTE_BOT = TestPki.identity("emojivoto", "vote-bot");
    private static final String VOTING_SVC = "voting-svc.emojivoto.svc.cluster.local:8080";
    private static final String WEB_SVC = "web-svc.emojivoto.svc.cluster.local:80";
    private static final String VIA_FORWARD = "via-forward.evil:1";
    private static final String UNDECLARED = "undeclared.evil:1";

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private HttpServer votingApp;
    private HttpServer webApp;
    private final AtomicInteger votes = new AtomicInteger();
    private Proxy web;
    private Proxy voteBot;

    @BeforeEach
    void start() throws Exception {
        mesh = new MeshFixture(dir);
        votingApp = app("vote", votes);
        webApp = app("web page", new AtomicInteger());
        Proxy voting = mesh.start(MeshFixture.declaring(mesh.config(VOTING, List.of()), votingApp.getAddress().getPort()));
        mesh.destination.set(VOTING_SVC, List.of(FakeDestination.endpoint("127.0.0.1", votingApp.getAddress().getPort(), VOTING,
                voting.inboundAddress().getPort())));
        // web declares its own app port, and has an HTTP forward to voting (as the demo's web does).
        web = mesh.start(MeshFixture.declaring(mesh.config(WEB, List.of(Forward.parse("0=http://" + VOTING_SVC))),
                webApp.getAddress().getPort()));
        mesh.destination.set(WEB_SVC, List.of(FakeDestination.endpoint("127.0.0.1", webApp.getAddress().getPort(), WEB, web.inboundAddress().getPort())));
        int forwardPort = web.forwardAddress(0).getPort();
        // What the attacker makes its own proxy believe: web's endpoints on web's forward port, and on voting's app port.
        mesh.destination.set(VIA_FORWARD, List.of(FakeDestination.endpoint("127.0.0.1", forwardPort, WEB, web.inboundAddress().getPort())));
        mesh.destination.set(UNDECLARED, List.of(FakeDestination.endpoint("127.0.0.1", votingApp.getAddress().getPort(), WEB,
                web.inboundAddress().getPort())));
        voteBot = mesh.start(mesh.config(VOTE_BOT, List.of(
                Forward.parse("0=" + VIA_FORWARD),
                Forward.parse("0=http://" + VIA_FORWARD),
                Forward.parse("0=" + UNDECLARED),
                Forward.parse("0=http://" + UNDECLARED),
                Forward.parse("0=http://" + WEB_SVC))));
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        votingApp.stop(0);
        webApp.stop(0);
    }

    @Test
    void theCallersIdentityCannotBeLaunderedThroughTheProxysOwnForward() throws Exception {
        assertThat(opaqueExchange(voteBot.forwardAddress(0))).as("opaque, naming web's forward port").isEqualTo(-1);
        HttpResponse<String> http = get(voteBot.forwardAddress(1), "/api/vote");
        assertThat(http.statusCode()).isEqualTo(403);
        assertThat(http.headers().firstValue("trellis-proxy-error")).contains("target port is one of the proxy's own");

        assertThat(votes).as("voting's app never hears of it").hasValue(0);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(MeshFixture.metrics(web))
                .contains("tcp_refused_total{direction=\"inbound\",reason=\"protected_port\"} 1.0")
                .contains("request_refused_total{direction=\"inbound\",reason=\"protected_port\"} 1.0"));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(refusals(web))
                .filteredOn(line -> line.contains("\"decision\":\"protected_port\""))
                .hasSize(2)
                .allSatisfy(line -> assertThat(line).contains("\"source_identity\":\"" + VOTE_BOT.spiffeId() + "\"")
                        .contains("is one of this proxy's own listeners")));
    }

    @Test
    void aLoopbackPortTheWorkloadDidNotDeclareIsNotATarget() throws Exception {
        assertThat(opaqueExchange(voteBot.forwardAddress(2))).as("opaque, naming an undeclared port").isEqualTo(-1);
        HttpResponse<String> http = get(voteBot.forwardAddress(3), "/api/vote");
        assertThat(http.statusCode()).isEqualTo(403);
        assertThat(http.headers().firstValue("trellis-proxy-error")).contains("target port not declared by the workload");

        assertThat(votes).hasValue(0);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(refusals(web))
                .filteredOn(line -> line.contains("\"decision\":\"undeclared_port\""))
                .hasSize(2)
                .allSatisfy(line -> assertThat(line).contains("port " + votingApp.getAddress().getPort() + " is not declared by emojivoto/web")));
        assertThat(MeshFixture.metrics(web)).contains("tcp_refused_total{direction=\"inbound\",reason=\"undeclared_port\"} 1.0");
    }

    @Test
    void theDeclaredPortStillServes() throws Exception {
        HttpResponse<String> http = get(voteBot.forwardAddress(4), "/");
        assertThat(http.statusCode()).isEqualTo(200);
        assertThat(http.body()).isEqualTo("web page");
    }

    private List<String> refusals(Proxy proxy) throws Exception {
        Path log = dir.resolve(WEB.serviceAccount() + "-connections.log");
        return Files.exists(log) ? Files.readAllLines(log).stream().filter(l -> l.contains("\"event\":\"inbound_refusal\"")).toList() : List.of();
    }

    /** Sends a vote over an opaque forward; the first byte read back, or -1 when the connection was closed. */
    private static int opaqueExchange(InetSocketAddress forward) throws Exception {
        try (Socket socket = new Socket(forward.getAddress(), forward.getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /api/vote HTTP/1.1\r\nHost: voting\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            try {
                return socket.getInputStream().read();
            } catch (java.net.SocketException reset) {
                return -1;
            }
        }
    }

    private static HttpResponse<String> get(InetSocketAddress forward, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + forward.getPort() + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpServer app(String answer, AtomicInteger hits) throws Exception {
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            hits.incrementAndGet();
            byte[] body = answer.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.start();
        return app;
    }
}
