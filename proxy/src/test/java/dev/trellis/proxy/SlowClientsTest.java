package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.RawH2Client;
import dev.trellis.testing.TestPki;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Slowloris against the outbound HTTP listener (an outside review held 4,000 slow connections
 * for 70 s, and 100 half-sent requests for 65 s): each request head has a total deadline,
 * a source holds a bounded number of connections still opening, and an honest client from
 * the same address, beside the attack, is served throughout.
 */
class SlowClientsTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String HOST = "emoji-svc.emojivoto.svc.cluster.local";

    @TempDir
    Path dir;

    @Test
    void slowRequestHeadsAreCutAtTheirDeadlineAndBoundedPerSourceWhileAnHonestClientIsServed() throws Exception {
        HttpServer app = emptyApp();
        List<Socket> slow = new ArrayList<>();
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()));
            Proxy client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(5)).toBuilder()
                    .headerTimeout(Duration.ofSeconds(2)).maxOpeningPerSource(50).build());
            mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, server.inboundAddress().getPort())));
            InetSocketAddress outbound = client.outboundAddress().orElseThrow();
            HttpClient honest = HttpClient.newBuilder().proxy(ProxySelector.of(outbound)).version(HttpClient.Version.HTTP_1_1).build();

            long started = System.nanoTime();
            int served = 0;
            int asked = 0;
            // 400 connections, each starting a request and then sending a byte every 250 ms; an honest request every 100 ms beside them.
            for (int round = 0; round < 40; round++) {
                for (int i = 0; i < 10; i++) {
                    Socket socket = new Socket(outbound.getAddress(), outbound.getPort());
                    socket.getOutputStream().write(("GET http://" + HOST + "/ HTTP/1.1\r\nHost: " + HOST + "\r\nX-Slow: ").getBytes(StandardCharsets.US_ASCII));
                    slow.add(socket);
                }
                if (round % 2 == 0) {
                    trickle(slow);
                }
                asked++;
                HttpResponse<Void> response = honest.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/")).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.discarding());
                served += response.statusCode() == 200 ? 1 : 0;
                Thread.sleep(100);
            }
            long lastOpened = System.nanoTime();
            assertThat(served).as("honest requests served during the attack").isEqualTo(asked);
            // At most 50 slow connections are open now; and none of them outlives its 2 s head deadline, however it trickles:
            // the last one opened is given its 2 s and a generous 3 s for a loaded machine, trickling all the while
            // (a deadline that bytes extended would keep them open for good).
            assertThat(open(slow)).isLessThanOrEqualTo(50);
            long giveUp = lastOpened + Duration.ofSeconds(5).toNanos();
            int stillOpen;
            do {
                Thread.sleep(250);
                trickle(slow);
                stillOpen = open(slow);
            } while (stillOpen > 0 && System.nanoTime() < giveUp);
            assertThat(stillOpen).as("slow connections still open %s after the last one was opened (%s after the attack began)",
                    Duration.ofNanos(System.nanoTime() - lastOpened), Duration.ofNanos(System.nanoTime() - started)).isZero();
        } finally {
            for (Socket socket : slow) {
                socket.close();
            }
            app.stop(0);
        }
    }

    @Test
    void aTrickledBodyOrASecondRequestTrickledOnAKeptAliveConnectionGets408AtTheDeadline() throws Exception {
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.start();
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()));
            Proxy client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(5)).toBuilder()
                    .headerTimeout(Duration.ofSeconds(2)).build());
            mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, server.inboundAddress().getPort())));
            InetSocketAddress outbound = client.outboundAddress().orElseThrow();
            String head = "POST http://" + HOST + "/ HTTP/1.1\r\nHost: " + HOST + "\r\nContent-Length: 100\r\n\r\n";

            try (Socket body = new Socket(outbound.getAddress(), outbound.getPort());
                 Socket second = new Socket(outbound.getAddress(), outbound.getPort())) {
                // A whole head, then a body one byte every 250 ms: the head was in time, the request is not.
                body.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
                // A first request answered, then the next one's head trickled.
                second.getOutputStream().write((head + "x".repeat(100)).getBytes(StandardCharsets.US_ASCII));
                second.setSoTimeout(5000);
                assertThat(readResponseHead(second)).startsWith("HTTP/1.1 200");
                second.getOutputStream().write(("GET http://" + HOST + "/ HTTP/1.1\r\nX-Slow: ").getBytes(StandardCharsets.US_ASCII));

                long started = System.nanoTime();
                List<Socket> both = List.of(body, second);
                while (Duration.ofNanos(System.nanoTime() - started).compareTo(Duration.ofSeconds(4)) < 0 && open(new ArrayList<>(both)) > 0) {
                    trickle(both);
                    Thread.sleep(250);
                }
                assertThat(Duration.ofNanos(System.nanoTime() - started)).as("time until both were cut off").isLessThan(Duration.ofSeconds(4));
            }
            // Both refusals counted, the trickled head's 408 as the trickled body's.
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(MeshFixture.metrics(client))
                    .contains("request_refused_total{direction=\"outbound\",reason=\"header_timeout\"} 2.0"));
        } finally {
            app.stop(0);
        }
    }

    private static String readResponseHead(Socket socket) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int read = socket.getInputStream().read();
            if (read < 0) {
                break;
            }
            head.append((char) read);
        }
        return head.toString();
    }

    @Test
    void anHttp2ClientThatSendsHalfARequestHeadIsClosedAtTheDeadlineOnBothSides() throws Exception {
        HttpServer app = emptyApp();
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Duration deadline = Duration.ofSeconds(1);
            Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()).toBuilder()
                    .headerTimeout(deadline).build());
            Proxy client = mesh.start(mesh.config(WEB, List.of(new dev.trellis.proxy.Forward(new HostPort("127.0.0.1", 0),
                    HOST + ":80", true)), Optional.empty(), Duration.ofSeconds(5)).toBuilder().headerTimeout(deadline).build());
            mesh.destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, server.inboundAddress().getPort())));

            // The app's side: the HTTP forward (plaintext HTTP/2). Netty's codec alone would hold the open header block for good.
            long started = System.nanoTime();
            try (RawH2Client slow = new RawH2Client(client.forwardAddress(0), null, null);
                 RawH2Client honest = new RawH2Client(client.forwardAddress(0), null, null)) {
                slow.halfHeaders();
                assertThat(slow.goAway()).succeedsWithin(Duration.ofSeconds(5)).isEqualTo((long) io.netty.handler.codec.http2.Http2Error.ENHANCE_YOUR_CALM.code());
                assertThat(slow.closed()).succeedsWithin(Duration.ofSeconds(5));
                assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(deadline);
                // Another connection, whole and idle, is left alone.
                assertThat(honest.isOpen()).isTrue();
                assertThat(honest.goAway()).isNotDone();
            }
            assertThat(MeshFixture.metrics(client)).contains("request_refused_total{direction=\"outbound\",reason=\"header_timeout\"} 1.0");

            // The mesh side: a peer with a valid certificate is authenticated, not trusted.
            var web = new dev.trellis.tls.context.CredentialsStore(WEB, mesh.pki.trustAnchors(), java.time.Clock.systemUTC());
            web.install(mesh.pki.credentialsFor(WEB, Duration.ofHours(1)));
            var tls = dev.trellis.tls.context.MeshSslContexts.forClient(mesh.pki.trustAnchors(), Optional.of(web),
                    List.of(dev.trellis.proxy.transport.MeshProtocols.HTTP2), java.time.Clock.systemUTC());
            started = System.nanoTime();
            try (RawH2Client peer = new RawH2Client(server.inboundAddress(), tls, EMOJI.dnsName())) {
                peer.halfHeaders();
                assertThat(peer.closed()).succeedsWithin(Duration.ofSeconds(5));
                assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(deadline);
            }
            assertThat(MeshFixture.metrics(server)).contains("request_refused_total{direction=\"inbound\",reason=\"header_timeout\"} 1.0");
        } finally {
            app.stop(0);
        }
    }

    /** An app on loopback answering every request 200 with no body. */
    private static HttpServer emptyApp() throws IOException {
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.start();
        return app;
    }

    /** One more byte on each slow connection; a closed one shows as such on its next read. */
    private static void trickle(List<Socket> slow) {
        for (Socket socket : slow) {
            try {
                socket.getOutputStream().write('x');
            } catch (IOException closed) {
                // cut off
            }
        }
    }

    /** Slow connections the proxy has not closed: a read of 0 ms answers "closed" (-1 or reset) or times out (open). */
    private static int open(List<Socket> slow) throws IOException {
        int open = 0;
        for (Socket socket : slow) {
            if (socket.isClosed()) {
                continue;
            }
            socket.setSoTimeout(1);
            try {
                int read = socket.getInputStream().read();
                if (read >= 0) {
                    // 408 from the proxy: it is closing this one
                    socket.close();
                } else {
                    socket.close();
                }
            } catch (java.net.SocketTimeoutException stillOpen) {
                open++;
            } catch (IOException reset) {
                socket.close();
            }
        }
        return open;
    }
}
