package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.api.destination.v1.WeightedAddr;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shutdown (what SIGTERM runs) while requests flow: every request that had started is
 * answered, and a draining endpoint's traffic moves to the others without errors.
 */
class GracefulShutdownTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String HOST = "emoji-svc.emojivoto.svc.cluster.local";

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private final List<HttpServer> apps = new ArrayList<>();
    private final List<Proxy> servers = new ArrayList<>();
    /** Request ids each app received, by app name. */
    private final Map<String, Set<String>> seen = new ConcurrentHashMap<>();
    private Proxy client;
    private HttpClient http;

    @BeforeEach
    void start() throws Exception {
        mesh = new MeshFixture(dir);
        client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(10)));
        http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow()))
                .version(HttpClient.Version.HTTP_1_1).executor(Executors.newVirtualThreadPerTaskExecutor()).build();
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        apps.forEach(app -> app.stop(0));
    }

    /** An app behind its own server-side proxy; {@code /slow} takes 800 ms. */
    private WeightedAddr endpoint(String name) throws Exception {
        Set<String> ids = ConcurrentHashMap.newKeySet();
        seen.put(name, ids);
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            String query = exchange.getRequestURI().getQuery();
            ids.add(query == null ? "" : query);
            try {
                Thread.sleep(exchange.getRequestURI().getPath().equals("/slow") ? 800 : 5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] body = name.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        app.start();
        apps.add(app);
        Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()));
        servers.add(server);
        return FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, server.inboundAddress().getPort());
    }

    private HttpResponse<String> get(String path, String id) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + path + "?" + id)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void serverSideShutdownAnswersTheRequestsItHadStarted() throws Exception {
        mesh.destination.set(HOST + ":80", List.of(endpoint("a")));
        assertThat(get("/", "warm").statusCode()).isEqualTo(200);
        List<Future<HttpResponse<String>>> slow = startSlowRequests(5);
        long began = System.nanoTime();
        servers.getFirst().shutdown();
        Duration took = Duration.ofNanos(System.nanoTime() - began);

        for (Future<HttpResponse<String>> response : slow) {
            assertThat(response.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
        // GOAWAY let the multiplexed connection close as soon as its streams ended, before the grace period ran out.
        assertThat(took).isLessThan(Duration.ofMillis(1900));
    }

    @Test
    void clientSideShutdownAnswersTheRequestsItHadStartedAndClosesIdleConnections() throws Exception {
        mesh.destination.set(HOST + ":80", List.of(endpoint("a")));
        assertThat(get("/", "warm").statusCode()).isEqualTo(200); // leaves an idle keep-alive connection
        List<Future<HttpResponse<String>>> slow = startSlowRequests(5);
        long began = System.nanoTime();
        client.shutdown();
        Duration took = Duration.ofNanos(System.nanoTime() - began);

        for (Future<HttpResponse<String>> response : slow) {
            HttpResponse<String> answered = response.get(10, TimeUnit.SECONDS);
            assertThat(answered.statusCode()).isEqualTo(200);
            assertThat(answered.headers().firstValue("connection")).hasValue("close");
        }
        assertThat(took).as("idle keep-alive connections do not hold the drain").isLessThan(Duration.ofMillis(1900));
    }

    @Test
    void aDrainingEndpointsTrafficMovesToTheOthersWithoutErrors() throws Exception {
        mesh.destination.set(HOST + ":80", List.of(endpoint("a"), endpoint("b")));
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger sent = new AtomicInteger();
        Map<String, String> answered = new ConcurrentHashMap<>();
        List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch warm = new CountDownLatch(200);
        List<Thread> clients = new ArrayList<>();
        for (int c = 0; c < 8; c++) {
            clients.add(Thread.ofVirtual().start(() -> {
                // Bounded: stops when told, or after 3,000 requests.
                for (int i = 0; running.get() && i < 3_000; i++) {
                    String id = "r" + sent.incrementAndGet();
                    try {
                        HttpResponse<String> response = get("/", id);
                        if (response.statusCode() == 200) {
                            answered.put(id, response.body());
                        } else {
                            failures.add(id + ": " + response.statusCode() + " " + response.headers().firstValue("trellis-proxy-error").orElse(""));
                        }
                    } catch (Exception e) {
                        failures.add(id + ": " + e);
                    }
                    warm.countDown();
                }
            }));
        }
        assertThat(warm.await(20, TimeUnit.SECONDS)).isTrue();
        servers.getFirst().shutdown();
        int afterShutdown = sent.get();
        // Keep the load on the remaining endpoint a while.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> sent.get() > afterShutdown + 200);
        running.set(false);
        for (Thread thread : clients) {
            thread.join(Duration.ofSeconds(20));
        }

        assertThat(failures).isEmpty();
        assertThat(answered.values()).contains("a", "b");
        // Nothing an app processed went unanswered.
        Set<String> processed = ConcurrentHashMap.newKeySet();
        seen.values().forEach(processed::addAll);
        processed.remove("");
        assertThat(answered.keySet()).containsAll(processed);
        // And the drained endpoint took nothing new once it had finished.
        Set<String> lateOnA = new java.util.HashSet<>(seen.get("a"));
        lateOnA.removeIf(id -> Integer.parseInt(id.substring(1)) <= afterShutdown);
        assertThat(lateOnA).isEmpty();
    }

    private List<Future<HttpResponse<String>>> startSlowRequests(int count) throws Exception {
        var executor = Executors.newVirtualThreadPerTaskExecutor();
        List<Future<HttpResponse<String>>> slow = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String id = "slow" + i;
            slow.add(executor.submit(() -> get("/slow", id)));
        }
        // Shut down only once every slow request reached the app: they had all started.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> seen.values().stream().mapToLong(ids -> ids.stream().filter(id -> id.startsWith("slow")).count()).sum() == count);
        return slow;
    }
}
