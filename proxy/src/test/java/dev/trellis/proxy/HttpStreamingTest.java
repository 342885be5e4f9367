package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/1.1 bodies stream through the HTTP-aware path, both ways (outbound HTTP/1 → HTTP/2
 * between proxies → HTTP/1 to the app): sizes past any buffer, many at once, HEAD, chunked
 * responses whose first bytes arrive before the rest exists. Each test failed on 0.2.0,
 * which aggregated bodies up to 8 MiB.
 */
class HttpStreamingTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String HOST = "emoji-http.emojivoto.svc.cluster.local";
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private HttpServer app;
    private Proxy client;
    private Proxy server;
    private WebSocketEchoServer webSockets;
    private HttpClient http;
    private final AtomicInteger downloads = new AtomicInteger();
    private final AtomicInteger heads = new AtomicInteger();

    @BeforeEach
    void start() throws Exception {
        mesh = new MeshFixture(dir);
        app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        // The body's length and SHA-256, read as it comes.
        app.createContext("/upload", exchange -> {
            MessageDigest sha = sha256();
            long length = 0;
            try (InputStream in = exchange.getRequestBody()) {
                byte[] buffer = new byte[64 * 1024];
                int n;
                while ((n = in.read(buffer)) > 0) {
                    sha.update(buffer, 0, n);
                    length += n;
                }
            }
            byte[] answer = (length + " " + HexFormat.of().formatHex(sha.digest())).getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(200, answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        // /download/N: N bytes of seeded noise, with a Content-Length; /download/chunked/N: the same, chunked.
        app.createContext("/download", exchange -> {
            String[] parts = exchange.getRequestURI().getPath().split("/");
            long size = Long.parseLong(parts[parts.length - 1]);
            boolean chunked = exchange.getRequestURI().getPath().contains("/chunked/");
            if (exchange.getRequestMethod().equals("HEAD")) {
                heads.incrementAndGet();
                exchange.getResponseHeaders().set("Content-Length", Long.toString(size));
                exchange.sendResponseHeaders(200, -1);
                exchange.close();
                return;
            }
            downloads.incrementAndGet();
            exchange.sendResponseHeaders(200, chunked ? 0 : size);
            try (OutputStream out = exchange.getResponseBody()) {
                Random random = new Random(size);
                byte[] buffer = new byte[64 * 1024];
                for (long left = size; left > 0; ) {
                    int n = (int) Math.min(buffer.length, left);
                    random.nextBytes(buffer);
                    out.write(buffer, 0, n);
                    left -= n;
                }
            }
        });
        // A server-sent event at once, the next one 3 s later.
        app.createContext("/events", exchange -> {
            exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
            exchange.sendResponseHeaders(200, 0);
            OutputStream out = exchange.getResponseBody();
            out.write("data: first\n\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            sleep(3000);
            out.write("data: second\n\n".getBytes(StandardCharsets.US_ASCII));
            out.close();
        });
        app.createContext("/hello", exchange -> {
            byte[] body = "hello".getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        app.start();
        webSockets = WebSocketEchoServer.start();
        Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort(), webSockets.port()));
        this.server = server;
        client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(30)));
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
        if (webSockets != null) {
            webSockets.close();
        }
    }

    @Test
    void aWebSocketUpgradeThroughTheHttpAwarePathEchoes() throws Exception {
        String ws = "ws-echo.emojivoto.svc.cluster.local";
        mesh.destination.set(ws + ":80", List.of(FakeDestination.endpoint("127.0.0.1", webSockets.port(), EMOJI, server.inboundAddress().getPort())));
        // A forward that treats its traffic as HTTP: the upgrade leaves the HTTP-aware path and is carried opaque over mTLS.
        Proxy forwarding = mesh.start(mesh.config(WEB, List.of(Forward.parse("0=http://" + ws + ":80"))));
        List<String> echoed = new java.util.concurrent.CopyOnWriteArrayList<>();
        CompletableFuture<Void> closed = new CompletableFuture<>();
        java.net.http.WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
                .buildAsync(URI.create("ws://127.0.0.1:" + forwarding.forwardAddress(0).getPort() + "/echo"), new java.net.http.WebSocket.Listener() {
                    @Override
                    public java.util.concurrent.CompletionStage<?> onText(java.net.http.WebSocket webSocket, CharSequence data, boolean last) {
                        echoed.add(data.toString());
                        webSocket.request(1);
                        return null;
                    }

                    @Override
                    public java.util.concurrent.CompletionStage<?> onClose(java.net.http.WebSocket webSocket, int statusCode, String reason) {
                        closed.complete(null);
                        return null;
                    }
                }).get(10, TimeUnit.SECONDS);
        socket.sendText("hello", true).get(10, TimeUnit.SECONDS);
        socket.sendText("again", true).get(10, TimeUnit.SECONDS);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> echoed.size() == 2);
        assertThat(echoed).containsExactly("hello", "again");
        assertThat(MeshFixture.metrics(server)).as("the hop was mTLS from web").containsPattern(
                "tcp_open_total\\{authority=\"[^\"]*\",direction=\"inbound\",peer_id=\"" + java.util.regex.Pattern.quote(WEB.spiffeId()) + "\",tls=\"true\"\\} 1.0");
        socket.sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
        closed.get(10, TimeUnit.SECONDS);
    }

    @Test
    void fiftyMegabytesGoUpIntact() throws Exception {
        long size = 50L * MIB;
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/upload"))
                .POST(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> new Noise(size, 50)), size))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo(size + " " + Noise.sha256(size, 50));
    }

    @Test
    void aChunkedUploadOfUnknownLengthGoesUpIntact() throws Exception {
        long size = 20L * MIB;
        // ofInputStream without a length: the client sends it chunked.
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/upload"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new Noise(size, 20)))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo(size + " " + Noise.sha256(size, 20));
    }

    @Test
    void fiftyMegabytesComeDownIntactOnceWithAndWithoutALength() throws Exception {
        long size = 50L * MIB;
        for (String path : List.of("/download/" + size, "/download/chunked/" + size)) {
            HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + path))
                    .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(response.statusCode()).as(path).isEqualTo(200);
            assertThat(digest(response.body())).as(path).isEqualTo(size + " " + HexFormat.of().formatHex(seededSha(size)));
        }
        assertThat(downloads.get()).as("each download reached the app once").isEqualTo(2);
    }

    @Test
    void aHeadRequestGetsTheLengthAndNoBodyAndReachesTheAppOnce() throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/download/" + (20L * MIB)))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-length")).contains(Long.toString(20L * MIB));
        assertThat(response.body()).isEmpty();
        assertThat(heads.get()).isEqualTo(1);
        assertThat(http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/hello")).build(), HttpResponse.BodyHandlers.ofString()).body())
                .as("the connection goes on after a HEAD").isEqualTo("hello");
    }

    @Test
    void aServerSentEventArrivesBeforeTheNextOneIsWritten() throws Exception {
        long sent = System.nanoTime();
        HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/events"))
                .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = response.body()) {
            byte[] first = in.readNBytes("data: first\n\n".length());
            long firstAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent);
            assertThat(new String(first, StandardCharsets.US_ASCII)).isEqualTo("data: first\n\n");
            // The app writes the second event 3 s after the first: the first must not wait for it.
            assertThat(firstAfter).as("first event after %d ms", firstAfter).isLessThan(2500);
            assertThat(new String(in.readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("data: second\n\n");
        }
    }

    @Test
    void twelveSevenMegabyteUploadsAtOnceAllArriveWhileSmallRequestsStayServed() throws Exception {
        long size = 7L * MIB;
        List<CompletableFuture<HttpResponse<String>>> uploads = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            int seed = 100 + i;
            uploads.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://" + HOST + "/upload"))
                    .POST(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> new Noise(size, seed)), size))
                    .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        try (ExecutorService small = Executors.newVirtualThreadPerTaskExecutor()) {
            List<CompletableFuture<Integer>> gets = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                gets.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/hello")).timeout(Duration.ofSeconds(20)).build(),
                                HttpResponse.BodyHandlers.ofString()).statusCode();
                    } catch (IOException | InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }, small));
            }
            for (CompletableFuture<Integer> get : gets) {
                assertThat(get.get(30, TimeUnit.SECONDS)).isEqualTo(200);
            }
        }
        for (int i = 0; i < uploads.size(); i++) {
            HttpResponse<String> response = uploads.get(i).get(60, TimeUnit.SECONDS);
            assertThat(response.statusCode()).as("upload %d", i).isEqualTo(200);
            assertThat(response.body()).as("upload %d", i).isEqualTo(size + " " + Noise.sha256(size, 100 + i));
        }
    }

    private static String digest(InputStream in) throws Exception {
        MessageDigest sha = sha256();
        long length = 0;
        try (in) {
            byte[] buffer = new byte[64 * 1024];
            int n;
            while ((n = in.read(buffer)) > 0) {
                sha.update(buffer, 0, n);
                length += n;
            }
        }
        return length + " " + HexFormat.of().formatHex(sha.digest());
    }

    /** What /download/N sends, digested. */
    private static byte[] seededSha(long size) {
        MessageDigest sha = sha256();
        Random random = new Random(size);
        byte[] buffer = new byte[64 * 1024];
        for (long left = size; left > 0; ) {
            int n = (int) Math.min(buffer.length, left);
            random.nextBytes(buffer);
            sha.update(buffer, 0, n);
            left -= n;
        }
        return sha.digest();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** {@code size} bytes of seeded noise, generated as read (never held whole). */
    private static final class Noise extends InputStream {
        private final Random random;
        private long left;
        private final byte[] block = new byte[16 * 1024];
        private int at = block.length;

        Noise(long size, long seed) {
            this.random = new Random(seed);
            this.left = size;
        }

        static String sha256(long size, long seed) throws IOException {
            MessageDigest sha = HttpStreamingTest.sha256();
            try (Noise noise = new Noise(size, seed)) {
                byte[] buffer = new byte[64 * 1024];
                int n;
                while ((n = noise.read(buffer)) > 0) {
                    sha.update(buffer, 0, n);
                }
            }
            return HexFormat.of().formatHex(sha.digest());
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] into, int offset, int length) {
            if (left == 0) {
                return -1;
            }
            if (at == block.length) {
                random.nextBytes(block);
                at = 0;
            }
            int n = (int) Math.min(Math.min(length, block.length - at), left);
            System.arraycopy(block, at, into, offset, n);
            at += n;
            left -= n;
            return n;
        }
    }
}
