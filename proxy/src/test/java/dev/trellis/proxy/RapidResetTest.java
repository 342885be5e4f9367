package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.proxy.transport.MeshProtocols;
import dev.trellis.testing.RawH2Client;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CVE-2023-44487 ("rapid reset") against the proxy's inbound HTTP/2: a mesh identity opens
 * 20,000 streams on one connection, each reset at once. The connection is cut off, and the
 * streams it reset are not forwarded to the app (an outside review counted about 1,800 of
 * 20,000 reaching it), while another caller is served.
 */
class RapidResetTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");

    @TempDir
    Path dir;

    @Test
    void aRapidResetFloodIsCutOffAndItsResetStreamsDoNotReachTheApp() throws Exception {
        AtomicInteger reached = new AtomicInteger();
        HttpServer app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            reached.incrementAndGet();
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        app.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        app.start();
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.getAddress().getPort()));
            CredentialsStore web = new CredentialsStore(WEB, mesh.pki.trustAnchors(), Clock.systemUTC());
            web.install(mesh.pki.credentialsFor(WEB, Duration.ofHours(1)));
            var tls = MeshSslContexts.forClient(mesh.pki.trustAnchors(), Optional.of(web), List.of(MeshProtocols.HTTP2), Clock.systemUTC());
            String port = String.valueOf(app.getAddress().getPort());
            try (RawH2Client attacker = new RawH2Client(server.inboundAddress(), tls, EMOJI.dnsName());
                 RawH2Client honest = new RawH2Client(server.inboundAddress(), tls, EMOJI.dnsName())) {
                attacker.rapidReset(20_000, RawH2Client.get("emoji", "/flood", "trellis-target-port", port));
                assertThat(attacker.closed()).succeedsWithin(Duration.ofSeconds(10));
                assertThat(honest.request(RawH2Client.get("emoji", "/honest", "trellis-target-port", port), true).get(5, TimeUnit.SECONDS).status())
                        .hasToString("200");
            }
            Thread.sleep(500);
            assertThat(reached.get()).as("requests that reached the app, of 20,000 reset ones (and one honest)").isLessThanOrEqualTo(10);
        } finally {
            app.stop(0);
        }
    }
}
