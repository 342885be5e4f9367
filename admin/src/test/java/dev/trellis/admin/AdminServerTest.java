package dev.trellis.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.core.net.HostPort;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdminServerTest {

    private final HttpClient http = HttpClient.newHttpClient();
    private final AtomicReference<Optional<String>> notReady = new AtomicReference<>(Optional.of("warming up"));
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private AdminServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private void start(boolean debug) throws Exception {
        server = AdminServer.builder("test").listen(new HostPort("127.0.0.1", 0)).registry(registry)
                .readiness(notReady::get).debug(debug).build().start();
    }

    @Test
    void readinessFollowsTheComponentAndSaysWhy() throws Exception {
        start(false);
        HttpResponse<String> notYet = get("/ready");
        assertThat(notYet.statusCode()).isEqualTo(503);
        assertThat(notYet.body()).isEqualTo("not ready: warming up\n");
        notReady.set(Optional.empty());
        assertThat(get("/ready").statusCode()).isEqualTo(200);
        assertThat(get("/live").body()).isEqualTo("live\n");
    }

    @Test
    void metricsAreThePrometheusTextOfTheRegistryWithBuildInfo() throws Exception {
        Counter.builder().name("things").help("things").register(registry).inc();
        start(false);
        String body = get("/metrics").body();
        assertThat(body).contains("things_total 1.0").contains("trellis_build_info{component=\"test\",version=\"");
    }

    @Test
    void debugPagesDoNotExistUnlessAsked() throws Exception {
        start(false);
        assertThat(get("/debug/threads").statusCode()).isEqualTo(404);
        server.close();
        start(true);
        assertThat(get("/debug/threads").statusCode()).isEqualTo(200);
    }

    @Test
    void theProbeListenerAnswersLiveAndReadyAndNothingElse() throws Exception {
        Counter.builder().name("secrets").help("things only loopback may see").register(registry).inc();
        server = AdminServer.builder("test").listen(new HostPort("127.0.0.1", 0)).probes(Optional.of(new HostPort("127.0.0.1", 0)))
                .registry(registry).readiness(notReady::get).debug(true).shutdown("a-token-of-sixteen-chars", () -> { }).build().start();
        int probes = server.probeAddress().orElseThrow().getPort();
        assertThat(probes).isNotEqualTo(server.address().getPort());
        assertThat(getAt(probes, "/ready").statusCode()).isEqualTo(503);
        assertThat(getAt(probes, "/ready").body()).isEqualTo("not ready: warming up\n");
        notReady.set(Optional.empty());
        assertThat(getAt(probes, "/ready").statusCode()).isEqualTo(200);
        assertThat(getAt(probes, "/live").statusCode()).isEqualTo(200);
        for (String hidden : List.of("/metrics", "/debug/threads", "/shutdown")) {
            assertThat(getAt(probes, hidden).statusCode()).as(hidden).isEqualTo(404);
        }
        HttpResponse<String> shutdown = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + probes + "/shutdown"))
                .header("Authorization", "Bearer a-token-of-sixteen-chars").POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(shutdown.statusCode()).isEqualTo(404);
        // The loopback admin listener still has everything.
        assertThat(get("/metrics").body()).contains("secrets_total 1.0");
        assertThat(get("/debug/threads").statusCode()).isEqualTo(200);
    }

    private HttpResponse<String> getAt(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void refusesOtherMethodsAndMalformedRequests() throws Exception {
        start(false);
        HttpResponse<String> delete = http.send(HttpRequest.newBuilder(uri("/live")).DELETE().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(delete.statusCode()).isEqualTo(405);
        assertThat(raw("GET /" + "a".repeat(5000) + " HTTP/1.1\r\nHost: x\r\n\r\n")).startsWith("HTTP/1.1 4");
    }

    @Test
    void aFullListenerMakesRoomByClosingItsOldestIdleConnection() throws Exception {
        start(false);
        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < AdminServer.MAX_CONNECTIONS; i++) {
                Socket socket = new Socket("127.0.0.1", server.address().getPort());
                socket.setSoTimeout(5000);
                held.add(socket);
            }
            Thread.sleep(200);
            // The newcomer is served; the oldest connection, which never sent a request, is the one closed.
            assertThat(raw("GET /live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).startsWith("HTTP/1.1 200");
            assertThat(held.getFirst().getInputStream().read()).isEqualTo(-1);
        } finally {
            for (Socket socket : held) {
                socket.close();
            }
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> get("/live").statusCode() == 200);
    }

    private String raw(String request) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.address().getPort())) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (java.net.SocketException e) {
            return "";
        }
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.address().getPort() + path);
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void probesAreAnsweredWhileSlowlorisClientsHoldEveryConnection() throws Exception {
        start(false);
        notReady.set(Optional.empty());
        java.net.InetSocketAddress address = server.address();
        java.util.List<java.net.Socket> slow = new java.util.ArrayList<>();
        try {
            // Twice the connection cap, each sending a request one byte at a time and never finishing it.
            for (int i = 0; i < 2 * AdminServer.MAX_CONNECTIONS; i++) {
                java.net.Socket socket = new java.net.Socket(address.getAddress(), address.getPort());
                socket.getOutputStream().write("GET /ready HTTP/1.1\r\nX-Slow: ".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                slow.add(socket);
            }
            int ok = 0;
            long worst = 0;
            for (int probe = 0; probe < 40; probe++) {
                for (java.net.Socket socket : slow) {
                    try {
                        socket.getOutputStream().write('x');
                    } catch (java.io.IOException closed) {
                        // evicted or timed out: that is the point
                    }
                }
                long started = System.nanoTime();
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + address.getPort() + "/ready"))
                        .timeout(java.time.Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                worst = Math.max(worst, System.nanoTime() - started);
                ok += response.statusCode() == 200 ? 1 : 0;
                Thread.sleep(50);
            }
            assertThat(ok).as("probes answered 200 during the flood").isEqualTo(40);
            assertThat(java.time.Duration.ofNanos(worst)).isLessThan(java.time.Duration.ofSeconds(1));
        } finally {
            for (java.net.Socket socket : slow) {
                socket.close();
            }
        }
    }

    @Test
    void aKeptAliveConnectionGetsTheDeadlineAgainAfterEachAnswer() throws Exception {
        // One quick request, then silence: the connection must not stay open (and busy) for ever.
        start(false);
        java.net.InetSocketAddress address = server.address();
        try (java.net.Socket socket = new java.net.Socket(address.getAddress(), address.getPort())) {
            socket.setSoTimeout(15_000);
            socket.getOutputStream().write("GET /live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            java.io.InputStream in = socket.getInputStream();
            byte[] answer = new byte[4096];
            int read = in.read(answer);
            assertThat(new String(answer, 0, read, java.nio.charset.StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
            long answered = System.nanoTime();
            int next;
            try {
                next = in.read();
            } catch (java.net.SocketException reset) {
                next = -1;
            }
            assertThat(next).isEqualTo(-1);
            assertThat(java.time.Duration.ofNanos(System.nanoTime() - answered))
                    .isBetween(java.time.Duration.ofSeconds(AdminServer.REQUEST_DEADLINE_SECONDS - 1), java.time.Duration.ofSeconds(AdminServer.REQUEST_DEADLINE_SECONDS + 3));
        }
    }

    @Test
    void aTricklingClientCannotExtendItsDeadline() throws Exception {
        start(false);
        java.net.InetSocketAddress address = server.address();
        long started = System.nanoTime();
        try (java.net.Socket socket = new java.net.Socket(address.getAddress(), address.getPort())) {
            socket.setSoTimeout(15_000);
            byte[] request = "GET /ready HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            try {
                for (byte b : request) {
                    socket.getOutputStream().write(b);
                    Thread.sleep(200);
                }
            } catch (java.io.IOException closed) {
                // cut off mid-request
            }
            assertThat(socket.getInputStream().read()).isEqualTo(-1);
        } catch (java.net.SocketException reset) {
            // cut off: fine
        }
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - started))
                .isBetween(java.time.Duration.ofSeconds(AdminServer.REQUEST_DEADLINE_SECONDS - 1), java.time.Duration.ofSeconds(AdminServer.REQUEST_DEADLINE_SECONDS + 3));
    }
}
