package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.destination.DestinationServer;
import dev.trellis.testing.TestPki;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Policy and profiles end to end: the real destination service reads manifests from a
 * directory; the server-side proxy watches its workload's inbound policy and authorizes each
 * request, the client-side proxy applies the route profile; editing the manifests changes
 * both live.
 */
class ControlPlanePolicyMeshTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity VOTING = TestPki.identity("emojivoto", "voting");
    private static final String HOST = "voting-svc.emojivoto.svc.cluster.local";

    @TempDir
    Path dir;

    private MeshFixture mesh;
    private LocalDirectorySource cluster;
    private DestinationServer destination;
    private HttpServer app;
    private Proxy server;
    private Proxy client;
    private HttpClient http;
    private Path state;
    private final java.util.concurrent.atomic.AtomicInteger upgradesSeen = new java.util.concurrent.atomic.AtomicInteger();

    @BeforeEach
    void start() throws Exception {
        mesh = new MeshFixture(dir);
        app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            if (exchange.getRequestHeaders().containsKey("Upgrade")) {
                upgradesSeen.incrementAndGet();
            }
            if (exchange.getRequestURI().getPath().equals("/slow")) {
                try {
                    Thread.sleep(1500);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            byte[] body = ("voted by " + exchange.getRequestHeaders().getFirst("trellis-client-id")).getBytes();
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        app.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        app.start();
        state = Files.createDirectories(dir.resolve("state"));
        cluster = LocalDirectorySource.start(state, Duration.ofMillis(50));
        destination = mesh.startDestination(cluster);
        int port = destination.grpcAddress().getPort();
        server = mesh.start(MeshFixture.withDestination(mesh.config(VOTING, List.of()), port, "voting-0"));
        client = mesh.start(MeshFixture.withDestination(
                mesh.config(WEB, List.of(), Optional.of(new HostPort("127.0.0.1", 0)), Duration.ofSeconds(5)), port, "web-0"));
        writeApp("");
        http = HttpClient.newBuilder().proxy(ProxySelector.of(client.outboundAddress().orElseThrow())).version(HttpClient.Version.HTTP_1_1).build();
    }

    @AfterEach
    void stop() throws Exception {
        mesh.close();
        destination.close();
        cluster.close();
        app.stop(0);
    }

    /** The app's Service, its two pods (local mode: 127.0.0.1 and a proxy inbound port each), and {@code policy}. */
    private void writeApp(String policy) throws Exception {
        int appPort = app.getAddress().getPort();
        String manifests = """
                apiVersion: v1
                kind: Service
                metadata: {namespace: emojivoto, name: voting-svc}
                spec: {ports: [{name: http, port: 80}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {namespace: emojivoto, name: voting-0, labels: {app: voting}, annotations: {config.trellis.dev/proxy-inbound-port: "%d"}}
                spec: {serviceAccountName: voting, containers: [{name: app, image: voting, ports: [{name: http, containerPort: %d}]}]}
                status: {podIP: 127.0.0.1}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {namespace: emojivoto, name: web-0, labels: {app: web}, annotations: {config.trellis.dev/proxy-inbound-port: "%d"}}
                spec: {serviceAccountName: web, containers: [{name: app, image: web}]}
                status: {podIP: 127.0.0.2}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {namespace: emojivoto, name: voting-svc-1, labels: {kubernetes.io/service-name: voting-svc}}
                addressType: IPv4
                ports: [{name: http, port: %d}]
                endpoints: [{addresses: [127.0.0.1], targetRef: {kind: Pod, namespace: emojivoto, name: voting-0}}]
                """.formatted(server.inboundAddress().getPort(), appPort, client.inboundAddress().getPort(), appPort);
        // Write whole files through a rename, as an editor does, so the watcher never reads half a file.
        Path temp = state.resolve(".app.yaml.tmp");
        Files.writeString(temp, manifests + (policy.isEmpty() ? "" : "---\n" + policy));
        Files.move(temp, state.resolve("app.yaml"), java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** A Server on the app's port, voters authorized on it, and {@code rateLimit} (more manifests, or empty). */
    private static String policy(String allowedAccount, String rateLimit) {
        return serverAndVoters(allowedAccount) + "---\n" + votersMayCall("Server", "voting-http", "voting-from-voters") + rateLimit;
    }

    /** The Server on the app's port and the voters: {@code account}'s identity. */
    private static String serverAndVoters(String account) {
        return """
                apiVersion: policy.trellis.dev/v1alpha1
                kind: Server
                metadata: {namespace: emojivoto, name: voting-http}
                spec: {podSelector: {matchLabels: {app: voting}}, port: http, protocol: http1}
                ---
                apiVersion: policy.trellis.dev/v1alpha1
                kind: MeshTLSAuthentication
                metadata: {namespace: emojivoto, name: voters}
                spec: {identityRefs: [{kind: ServiceAccount, name: %s}]}
                """.formatted(account);
    }

    /** An AuthorizationPolicy {@code name} admitting the voters to {@code kind} {@code target} (a Server, or an HTTPRoute). */
    private static String votersMayCall(String kind, String target, String name) {
        return """
                apiVersion: policy.trellis.dev/v1alpha1
                kind: AuthorizationPolicy
                metadata: {namespace: emojivoto, name: %s}
                spec:
                  targetRef: {kind: %s, name: %s}
                  requiredAuthenticationRefs: [{kind: MeshTLSAuthentication, name: voters}]
                """.formatted(name, kind, target);
    }

    private HttpResponse<String> vote() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/vote")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void policyEditsAllowAndDenyLive() throws Exception {
        // No Server covers the port: the default policy (all-unauthenticated) allows.
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> vote().statusCode() == 200);
        assertThat(vote().body()).isEqualTo("voted by " + WEB.spiffeId());

        writeApp(policy("someone-else", ""));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> vote().statusCode() == 403);
        HttpResponse<String> denied = vote();
        assertThat(denied.headers().firstValue("trellis-proxy-error")).hasValue("policy denied");
        assertThat(metrics(server)).contains("inbound_http_authz_deny_total{srv_name=\"voting-http\"}");

        writeApp(policy("web", ""));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> vote().statusCode() == 200);
        assertThat(metrics(server)).contains("inbound_http_authz_allow_total{authz_name=\"voting-from-voters\",srv_name=\"voting-http\"}");
    }

    @Test
    void auditModeLetsThroughAndCountsWhatEnforcementRefuses() throws Exception {
        // The same policy as enforced (voters are someone else), under accessPolicy: audit.
        writeApp(policy("someone-else", "").replace("protocol: http1}", "protocol: http1, accessPolicy: audit}"));
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(vote().statusCode()).isEqualTo(200);
            assertThat(metrics(server)).contains("inbound_http_authz_audit_total{srv_name=\"voting-http\"}");
        });
        assertThat(metrics(server)).doesNotContain("inbound_http_authz_deny_total{srv_name=\"voting-http\"}");
        // Enforced, the same caller is refused.
        writeApp(policy("someone-else", ""));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> vote().statusCode() == 403);
        assertThat(metrics(server)).contains("inbound_http_authz_deny_total{srv_name=\"voting-http\"}");
    }

    @Test
    void aRateLimitPolicyAnswers429() throws Exception {
        writeApp(policy("web", """
                ---
                apiVersion: policy.trellis.dev/v1alpha1
                kind: RateLimitPolicy
                metadata: {namespace: emojivoto, name: voting-limit}
                spec: {targetRef: {kind: Server, name: voting-http}, identityRequestsPerSecond: 2}
                """));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> vote().statusCode() == 429);
        HttpResponse<String> limited = vote();
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("trellis-proxy-error")).hasValue("rate limited");
        assertThat(metrics(server)).contains("inbound_http_ratelimit_total{srv_name=\"voting-http\"}");
    }

    @Test
    void routeTimeoutsComeFromTheServiceProfile() throws Exception {
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> vote().statusCode() == 200);
        writeApp("""
                apiVersion: policy.trellis.dev/v1alpha1
                kind: HTTPRoute
                metadata: {namespace: emojivoto, name: voting-routes}
                spec:
                  parentRefs: [{kind: Service, name: voting-svc, port: 80}]
                  rules:
                    - name: slow
                      matches: [{path: {type: Exact, value: /slow}, method: GET}]
                      timeout: 300ms
                    - name: vote
                      matches: [{path: {type: PathPrefix, value: /vote}}]
                """);
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            long started = System.nanoTime();
            HttpResponse<String> slow = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/slow")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(slow.statusCode()).isEqualTo(504);
            assertThat(slow.headers().firstValue("trellis-proxy-error")).hasValue("timeout");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(1400));
        });
        assertThat(vote().statusCode()).isEqualTo(200);
        // Route metrics name the Service discovery resolved the call to (what viz routes filters on, whatever authority the app used).
        assertThat(metrics(client)).contains("dst_namespace=\"emojivoto\",dst_service=\"voting-svc\",rt_route=\"vote\"")
                .contains("rt_route=\"slow\"");
    }

    /**
     * An upgrade (WebSocket) leaves the HTTP path and is carried as a connection: on a port
     * whose authorizations are all per route, a connection is authorized by none of them, so
     * the upgrade must be refused even on a path whose route admits the caller's plain requests
     * — a route authorization must not open a raw tunnel to the port.
     */
    @Test
    void anUpgradeCannotRideARouteAuthorizationToTheApp() throws Exception {
        writeApp(serverAndVoters("web") + """
                ---
                apiVersion: policy.trellis.dev/v1alpha1
                kind: HTTPRoute
                metadata: {namespace: emojivoto, name: voting-votes}
                spec:
                  parentRefs: [{kind: Server, name: voting-http}]
                  rules:
                    - matches: [{path: {type: PathPrefix, value: /vote}}]
                ---
                """ + votersMayCall("HTTPRoute", "voting-votes", "votes-from-voters"));
        // The route admits web's plain requests on /vote, and nothing else on the port.
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> vote().statusCode() == 200
                && http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + "/other")).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 403);

        InetSocketAddress outbound = client.outboundAddress().orElseThrow();
        try (java.net.Socket socket = new java.net.Socket(outbound.getAddress(), outbound.getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET http://" + HOST + "/vote/live HTTP/1.1\r\nHost: " + HOST + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            // Whatever comes back up to the end of a response head, or the connection's end.
            StringBuilder answer = new StringBuilder();
            try {
                for (int read; answer.indexOf("\r\n\r\n") < 0 && (read = socket.getInputStream().read()) >= 0; ) {
                    answer.append((char) read);
                }
            } catch (java.net.SocketException reset) {
                // refused by a reset: nothing came back
            }
            assertThat(answer.toString()).as("the upgrade is refused, not answered by the app").doesNotStartWith("HTTP/1.1 200").doesNotStartWith("HTTP/1.1 101");
        }
        assertThat(upgradesSeen).as("upgrade requests that reached the app").hasValue(0);
        Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(metrics(server)).contains("inbound_tcp_authz_deny_total{srv_name=\"voting-http\"}"));
    }

    private static String metrics(Proxy proxy) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.adminAddress().getPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
