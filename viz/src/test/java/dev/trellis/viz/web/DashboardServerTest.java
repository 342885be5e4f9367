package dev.trellis.viz.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.TestMesh;
import dev.trellis.viz.Viz;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The dashboard's listener over real sockets: its size and time limits, and the live stream's. */
class DashboardServerTest {

    private final TestMesh mesh = new TestMesh();
    private Viz viz;
    private LoginCodes codes;
    private DashboardServer server;

    @BeforeEach
    void start() throws Exception {
        mesh.pod("shop", "web", "web-0", "web", new TestMesh.Traffic(10, 1.0, Map.of()));
        viz = mesh.viz(Clock.systemUTC());
        codes = new LoginCodes(Duration.ofMinutes(5), Clock.systemUTC());
        server = DashboardServer.start(DashboardConfig.builder()
                        .requestLimits(2048, 4096, Duration.ofSeconds(1), 16)
                        .live(2, 100, Duration.ofSeconds(3))
                        .build(),
                viz, codes, ControlPlaneStatus.NONE, "cluster.local", Clock.systemUTC());
    }

    @AfterEach
    void stop() {
        server.close();
        viz.close();
    }

    private Socket connect() throws Exception {
        Socket socket = new Socket("127.0.0.1", server.address().getPort());
        socket.setSoTimeout(10_000);
        return socket;
    }

    private String host() {
        return "127.0.0.1:" + server.address().getPort();
    }

    private static String statusLine(InputStream in) throws Exception {
        return new BufferedReader(new InputStreamReader(in, StandardCharsets.ISO_8859_1)).readLine();
    }

    @Test
    void aBodyOverTheLimitIs413AndAHeadOverTheLimit431() throws Exception {
        try (Socket socket = connect()) {
            socket.getOutputStream().write(("POST /login HTTP/1.1\r\nHost: " + host() + "\r\nContent-Length: 5000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(statusLine(socket.getInputStream())).startsWith("HTTP/1.1 413");
        }
        try (Socket socket = connect()) {
            socket.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host() + "\r\nX-Big: " + "a".repeat(3000) + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(statusLine(socket.getInputStream())).startsWith("HTTP/1.1 431");
        }
    }

    @Test
    void aTricklingClientCannotExtendTheRequestDeadline() throws Exception {
        try (Socket socket = connect()) {
            OutputStream out = socket.getOutputStream();
            long began = System.nanoTime();
            String request = "GET / HTTP/1.1\r\nHost: " + host() + "\r\nX-Slow: " + "a".repeat(100);
            try {
                for (char c : request.toCharArray()) {
                    out.write(c);
                    out.flush();
                    Thread.sleep(50);
                    if (System.nanoTime() - began > Duration.ofSeconds(8).toNanos()) {
                        break;
                    }
                }
                assertThat(socket.getInputStream().read()).as("closed without an answer").isEqualTo(-1);
            } catch (SocketException closed) {
                // the server closed the connection under our writes: what the deadline does
            }
            assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    void liveStreamsArePerUserBoundedAndEndByThemselves() throws Exception {
        String session = login();
        String csrf = session(session);
        List<Socket> open = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                Socket socket = connect();
                open.add(socket);
                assertThat(statusLine(live(socket, session, csrf))).startsWith("HTTP/1.1 200");
            }
            try (Socket third = connect()) {
                assertThat(statusLine(live(third, session, csrf))).startsWith("HTTP/1.1 429");
            }
            // The first stream: stats each second, then its end at the time limit (3 s here), then the connection closes.
            String all = new String(open.getFirst().getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(all).contains("\"kind\":\"stats\"").contains("\"kind\":\"end\"").contains("time limit");
        } finally {
            for (Socket socket : open) {
                socket.close();
            }
        }
        // Closed streams are given back: the user may open another.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            try (Socket again = connect()) {
                assertThat(statusLine(live(again, session, csrf))).startsWith("HTTP/1.1 200");
            }
        });
    }

    @Test
    void aLiveStreamEndsWithItsSession() throws Exception {
        String session = login();
        String csrf = session(session);
        try (Socket stream = connect()) {
            InputStream in = live(stream, session, csrf);
            assertThat(statusLine(in)).startsWith("HTTP/1.1 200");
            var http = java.net.http.HttpClient.newHttpClient();
            var logout = http.send(java.net.http.HttpRequest.newBuilder(server.url().resolve("/logout")).header("Origin", "http://" + host())
                    .header("Cookie", "trellis-session-" + server.address().getPort() + "=" + session).header(Dashboard.CSRF_HEADER, csrf)
                    .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(logout.statusCode()).isEqualTo(204);
            String rest = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertThat(rest).contains("\"kind\":\"end\"").contains("the session ended");
        }
    }

    private InputStream live(Socket socket, String session, String csrf) throws Exception {
        byte[] body = "{\"namespace\":\"shop\"}".getBytes(StandardCharsets.UTF_8);
        socket.getOutputStream().write(("POST /api/live HTTP/1.1\r\nHost: " + host() + "\r\nOrigin: http://" + host() + "\r\nCookie: trellis-session-"
                + server.address().getPort() + "=" + session + "\r\n" + Dashboard.CSRF_HEADER + ": " + csrf + "\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().write(body);
        return socket.getInputStream();
    }

    private String login() throws Exception {
        var http = java.net.http.HttpClient.newHttpClient();
        var response = http.send(java.net.http.HttpRequest.newBuilder(server.url().resolve("/login")).header("Origin", "http://" + host())
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("code=" + codes.mint(new Viewer("carol", List.of(), Viewer.Access.EVERYTHING))))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        String cookie = response.headers().firstValue("Set-Cookie").orElseThrow();
        return cookie.substring(cookie.indexOf('=') + 1, cookie.indexOf(';'));
    }

    private String session(String session) throws Exception {
        var http = java.net.http.HttpClient.newHttpClient();
        String json = http.send(java.net.http.HttpRequest.newBuilder(server.url().resolve("/api/session"))
                .header("Cookie", "trellis-session-" + server.address().getPort() + "=" + session).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        return json.replaceAll(".*\"csrf\":\"([^\"]+)\".*", "$1");
    }
}
