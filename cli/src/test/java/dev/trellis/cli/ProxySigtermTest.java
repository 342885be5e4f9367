package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM to real {@code trellis proxy} processes, client side and server side at once,
 * while requests are in flight: every request that had reached the app is answered, and
 * both proxies exit well inside their grace period.
 */
class ProxySigtermTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String HOST = "emoji-svc.emojivoto.svc.cluster.local";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)   // the proxies' logs stay for a failed run
    Path dir;

    @Test
    void sigtermDuringRequestsLosesNoneThatHadStarted() throws Exception {
        TestPki pki = TestPki.create(dir);
        Set<String> started = ConcurrentHashMap.newKeySet();
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            started.add(exchange.getRequestURI().getQuery());
            try {
                Thread.sleep(exchange.getRequestURI().getPath().equals("/slow") ? 1500 : 1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.sendResponseHeaders(200, 2);
            exchange.getResponseBody().write("ok".getBytes());
            exchange.close();
        });
        app.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        app.start();
        List<Process> processes = new ArrayList<>();
        try (IdentityServer identity = IdentityServer.start(IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(),
                                pki.issuerCertificateFile(), pki.issuerKeyFile())
                        .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), AuditLog.sharing(OutputStream.nullOutputStream()), Clock.systemUTC());
             FakeDestination destination = new FakeDestination(pki, TestPki.identity("trellis", "trellis-destination"))) {
            String identityAddress = "127.0.0.1:" + identity.grpcAddress().getPort();
            String destinationAddress = "127.0.0.1:" + destination.port();
            int serverInbound = TrellisProcesses.freePort();
            int serverAdmin = TrellisProcesses.freePort();
            int clientOutbound = TrellisProcesses.freePort();
            int clientAdmin = TrellisProcesses.freePort();
            Process server = start(TrellisProcesses.proxy(dir, pki, EMOJI, identityAddress, destinationAddress, List.of(
                    "--inbound", "127.0.0.1:" + serverInbound, "--outbound", "off", "--admin", "127.0.0.1:" + serverAdmin,
                    "--shutdown-grace", "20s", "--tap", "off", "--inbound-ports", String.valueOf(app.getAddress().getPort()))), "server-proxy.log", processes);
            Process client = start(TrellisProcesses.proxy(dir, pki, WEB, identityAddress, destinationAddress, List.of(
                    "--inbound", "127.0.0.1:" + TrellisProcesses.freePort(), "--outbound", "127.0.0.1:" + clientOutbound,
                    "--admin", "127.0.0.1:" + clientAdmin, "--shutdown-grace", "20s", "--tap", "off")), "client-proxy.log", processes);
            destination.set(HOST + ":80", List.of(FakeDestination.endpoint("127.0.0.1", app.getAddress().getPort(), EMOJI, serverInbound)));

            TrellisProcesses.awaitReady(server, serverAdmin, dir.resolve("server-proxy.log"), Duration.ofSeconds(60));
            TrellisProcesses.awaitReady(client, clientAdmin, dir.resolve("client-proxy.log"), Duration.ofSeconds(60));
            HttpClient http = HttpClient.newBuilder().proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", clientOutbound)))
                    .version(HttpClient.Version.HTTP_1_1).executor(Executors.newVirtualThreadPerTaskExecutor()).build();
            assertThat(get(http, "/", "warm").statusCode()).as("through both proxies; logs in %s", dir).isEqualTo(200);

            var executor = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<HttpResponse<String>>> inFlight = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                String id = "slow" + i;
                inFlight.add(executor.submit(() -> get(http, "/slow", id)));
            }
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> started.stream().filter(id -> id.startsWith("slow")).count() == 6);

            long signalled = System.nanoTime();
            client.destroy(); // SIGTERM
            server.destroy();

            for (Future<HttpResponse<String>> response : inFlight) {
                assertThat(response.get(20, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            }
            for (Process process : List.of(client, server)) {
                assertThat(process.waitFor(20, TimeUnit.SECONDS)).isTrue();
                assertThat(process.exitValue()).as("killed by SIGTERM after its shutdown hook ran").isEqualTo(143);
            }
            // Done once the in-flight requests (1.5 s) ended, not after the 20 s grace.
            assertThat(Duration.ofNanos(System.nanoTime() - signalled)).isLessThan(Duration.ofSeconds(10));
            assertThat(Files.readString(dir.resolve("client-proxy.log"))).contains("shutting down").doesNotContain("still open after the grace period");
            assertThat(Files.readString(dir.resolve("server-proxy.log"))).contains("shutting down").doesNotContain("still open after the grace period");
        } finally {
            processes.forEach(Process::destroyForcibly);
            app.stop(0);
        }
    }

    private Process start(List<String> command, String log, List<Process> processes) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve(log).toFile()).start();
        processes.add(process);
        return process;
    }

    private static HttpResponse<String> get(HttpClient http, String path, String id) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + path + "?" + id)).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
