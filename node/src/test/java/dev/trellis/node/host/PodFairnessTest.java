package dev.trellis.node.host;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.proxy.Forward;
import dev.trellis.proxy.Proxy;
import dev.trellis.proxy.ProxyConfig;
import dev.trellis.proxy.ProxyHost;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pods that share a node proxy's loops share them fairly: one pod driven to saturation does
 * not starve another. Two client pods, each calling a backend pod of its own, all four hosted
 * on one {@link ProxyHost} (two loops, as the node proxy's default); pod B's p99 at a steady
 * rate, alone and then while pod A is flooded by as many requests as 8 callers can send.
 */
class PodFairnessTest {

    private static final String NS = "shop";

    @TempDir
    Path dir;

    @Test
    void aPodAtSaturationDoesNotStarveAnother() throws Exception {
        TestPki pki = TestPki.create(dir);
        IdentityServer identity = IdentityServer.start(IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(),
                        pki.issuerKeyFile()).listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), AuditLog.sharing(OutputStream.nullOutputStream()), Clock.systemUTC());
        FakeDestination destination = new FakeDestination(pki, TestPki.identity("trellis", "trellis-destination"), "127.0.0.1");
        List<HttpServer> backends = new ArrayList<>();
        List<Proxy> proxies = new ArrayList<>();
        ProxyHost host = ProxyHost.start(2);
        try {
            List<Proxy> clients = new ArrayList<>();
            for (String pod : List.of("a", "b")) {
                HttpServer backend = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 512);
                backend.createContext("/", exchange -> {
                    byte[] body = "ok\n".getBytes();
                    exchange.sendResponseHeaders(200, body.length);
                    exchange.getResponseBody().write(body);
                    exchange.close();
                });
                backend.setExecutor(Executors.newFixedThreadPool(4));
                backend.start();
                backends.add(backend);
                WorkloadIdentity backendId = TestPki.identity(NS, "backend-" + pod);
                Proxy backendProxy = Proxy.hosted(config(pki, identity, destination, backendId, "backend-" + pod + "-0", List.of())
                        .declaredPorts(java.util.Set.of(backend.getAddress().getPort())).build(), Clock.systemUTC(), host, host.localSockets());
                proxies.add(backendProxy);
                String authority = "backend-" + pod + "." + NS + ".svc.cluster.local:80";
                destination.set(authority, List.of(FakeDestination.endpoint("127.0.0.1", backend.getAddress().getPort(), backendId,
                        backendProxy.inboundAddress().getPort())));
                Proxy client = Proxy.hosted(config(pki, identity, destination, TestPki.identity(NS, "client-" + pod), "client-" + pod + "-0",
                        List.of(Forward.parse("0=http://" + authority))).build(), Clock.systemUTC(), host, host.localSockets());
                proxies.add(client);
                clients.add(client);
            }
            URI a = URI.create("http://127.0.0.1:" + clients.get(0).forwardAddress(0).getPort() + "/");
            URI b = URI.create("http://127.0.0.1:" + clients.get(1).forwardAddress(0).getPort() + "/");
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
            // Warm up both paths (certificates, discovery, the JIT).
            long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!ok(http, a) || !ok(http, b)) {
                assertThat(System.nanoTime()).as("both paths answer").isLessThan(until);
                Thread.sleep(100);
            }
            flood(http, a, Duration.ofSeconds(4));
            steady(http, b, 200);

            double idle = steady(http, b, 400);
            AtomicLong flooded = new AtomicLong();
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> flooders = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                flooders.add(Thread.ofPlatform().daemon().start(() -> {
                    while (!stop.get()) {
                        if (ok(http, a)) {
                            flooded.incrementAndGet();
                        }
                    }
                }));
            }
            Thread.sleep(1000);
            long before = flooded.get();
            long began = System.nanoTime();
            double busy = steady(http, b, 400);
            long during = flooded.get() - before;
            double seconds = (System.nanoTime() - began) / 1e9;
            stop.set(true);
            for (Thread flooder : flooders) {
                flooder.join(10_000);
            }
            System.out.printf("pod B p99 alone %.2f ms, while pod A is flooded %.2f ms; pod A served %d requests meanwhile (%.0f/s)%n", idle, busy, during,
                    during / seconds);
            assertThat(during).as("pod A is served, not shut out").isGreaterThan(100);
            // While B is busy, A reads at most its share (2,000 a second, and a burst of 4,000), one request per read at most.
            assertThat(during / seconds).as("pod A's rate while pod B is busy").isLessThan(ProxyHost.DEFAULT_POD_READS_PER_SECOND * 1.5 + 4000 / seconds);
            // Within twice the idle p99, with a millisecond for timer noise on a small machine.
            assertThat(busy).as("pod B's p99 while pod A is flooded, against %.2f ms alone", idle).isLessThanOrEqualTo(2 * idle + 1.0);
        } finally {
            proxies.forEach(Proxy::shutdown);
            host.close();
            backends.forEach(s -> s.stop(0));
            destination.close();
            identity.close();
        }
    }

    private ProxyConfig.Builder config(TestPki pki, IdentityServer identity, FakeDestination destination, WorkloadIdentity workload, String pod,
                                       List<Forward> forwards) throws Exception {
        Path token = dir.resolve(workload.serviceAccount() + ".token");
        Files.writeString(token, LocalTokens.mint(pki.tokenKey().getPrivate(), workload, Duration.ofHours(1), Instant.now()));
        return ProxyConfig.builder(workload).trustAnchorFile(pki.trustAnchorFile()).tokenFile(token)
                .identityService(new HostPort("127.0.0.1", identity.grpcAddress().getPort()))
                .destinationService(new HostPort("127.0.0.1", destination.port()))
                .inbound(new HostPort("127.0.0.1", 0)).outbound(Optional.empty()).tap(Optional.empty())
                .appHost(Optional.of("127.0.0.1")).forwards(forwards)
                .connectionLogFile(Optional.of(Path.of("/dev/null")))
                .shutdownGrace(Duration.ofSeconds(1));
    }

    private static boolean ok(HttpClient http, URI uri) {
        try {
            return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (Exception e) {
            return false;
        }
    }

    private static void flood(HttpClient http, URI uri, Duration duration) {
        long until = System.nanoTime() + duration.toNanos();
        while (System.nanoTime() < until) {
            ok(http, uri);
        }
    }

    /** {@code count} requests, one every 10 ms: their p99 in milliseconds (a failed one counts as 5 s). */
    private static double steady(HttpClient http, URI uri, int count) throws InterruptedException {
        double[] took = new double[count];
        for (int i = 0; i < count; i++) {
            long started = System.nanoTime();
            took[i] = ok(http, uri) ? (System.nanoTime() - started) / 1e6 : 5000;
            Thread.sleep(10);
        }
        Arrays.sort(took);
        return took[(int) Math.ceil(count * 0.99) - 1];
    }
}
