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
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Per-request balancing over three endpoints: spread, shift from a slow one, eject a dead one. */
class HttpBalancingTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String HOST = "emoji-svc.emojivoto.svc.cluster.local";

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private final List<HttpServer> apps = new ArrayList<>();
    private final Map<String, AtomicInteger> delays = new HashMap<>();
    private HttpClient http;

    @BeforeEach
    void start() throws Exception {
        mesh = new MeshFixture(dir);
        Proxy client = mesh.start(mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(5)));
        for (String name : List.of("a", "b", "c")) {
            AtomicInteger delay = new AtomicInteger();
            delays.put(name, delay);
            HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            app.createContext("/", exchange -> {
                try {
                    Thread.sleep(delay.get());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                byte[] body = name.getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
                exchange.close();
            });
            app.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
            app.start();
            apps.add(app);
        }
        Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), apps.stream().mapToInt(a -> a.getAddress().getPort()).toArray()));
        List<dev.trellis.api.destination.v1.WeightedAddr> endpoints = new ArrayList<>();
        for (HttpServer app : apps) {
            endpoints.add(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, server.inboundAddress().getPort()));
        }
        mesh.destination.set(HOST + ":80", endpoints);
        http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow())).version(HttpClient.Version.HTTP_1_1).build();
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        apps.forEach(app -> app.stop(0));
    }

    @Test
    void requestsSpreadAcrossThreeEndpoints() throws Exception {
        run(60); // warm-up: cold-JIT latencies would otherwise count against whoever served first
        // Eight concurrent clients, as real traffic: pending requests weigh in the choice.
        Map<String, Integer> served = new java.util.concurrent.ConcurrentHashMap<>();
        try (var clients = java.util.concurrent.Executors.newFixedThreadPool(8)) {
            List<java.util.concurrent.Future<Map<String, Integer>>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                results.add(clients.submit(() -> run(40)));
            }
            for (var result : results) {
                result.get().forEach((name, count) -> served.merge(name, count, Integer::sum));
            }
        }
        assertThat(served).containsOnlyKeys("a", "b", "c");
        // Power of two choices over latency is not round robin; every endpoint must still get a real share.
        served.values().forEach(count -> assertThat(count).as("share of %s", served).isGreaterThan(32));
    }

    @Test
    void trafficShiftsAwayFromASlowEndpoint() throws Exception {
        delays.get("c").set(100);
        Map<String, Integer> served = run(200);
        assertThat(served.getOrDefault("c", 0)).as("slow endpoint's share of %s", served).isLessThan(30);
    }

    @Test
    void aDeadEndpointIsEjectedAndRetriedRequestsStillSucceed() throws Exception {
        apps.get(1).stop(0);
        Map<String, Integer> served = run(100);
        assertThat(served).doesNotContainKey("b");
        assertThat(served.values().stream().mapToInt(Integer::intValue).sum()).as("every request succeeded").isEqualTo(100);
    }

    private Map<String, Integer> run(int requests) throws Exception {
        Map<String, Integer> served = new HashMap<>();
        for (int i = 0; i < requests; i++) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 200) {
                served.merge(response.body(), 1, Integer::sum);
            }
        }
        return served;
    }
}
