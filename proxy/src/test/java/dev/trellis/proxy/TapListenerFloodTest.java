package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.testing.RawH2Client;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tap listener is the proxy's own gRPC server since issue 21 (no grpc-java): the floods
 * the outside review ran against the gRPC servers — rapid reset, half a header block — end
 * its connection, and it keeps answering others.
 */
class TapListenerFloodTest {

    private static final WorkloadIdentity VOTING = TestPki.identity("emojivoto", "voting");
    private static final WorkloadIdentity VIZ = TestPki.identity("trellis", "trellis-viz");

    @TempDir
    Path dir;

    private static Http2Headers observe() {
        return new DefaultHttp2Headers(false).method("POST").scheme("https").authority(VOTING.dnsName())
                .path("/trellis.tap.v1.Tap/Observe").set("content-type", "application/grpc").set("te", "trailers");
    }

    @Test
    void aRapidResetFloodAndAHalfHeaderBlockEndTheirConnectionsAndOthersAreStillAnswered() throws Exception {
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Proxy proxy = mesh.start(mesh.config(VOTING, List.of()));
            CredentialsStore viz = new CredentialsStore(VIZ, mesh.pki.trustAnchors(), Clock.systemUTC());
            viz.install(mesh.pki.credentialsFor(VIZ, Duration.ofHours(1)));
            var tls = MeshSslContexts.forClient(mesh.pki.trustAnchors(), Optional.of(viz), List.of("h2"), Clock.systemUTC());
            var tap = proxy.tapAddress().orElseThrow();
            try (RawH2Client attacker = new RawH2Client(tap, tls, VOTING.dnsName());
                 RawH2Client trickler = new RawH2Client(tap, tls, VOTING.dnsName())) {
                attacker.rapidReset(20_000, observe());
                assertThat(attacker.closed()).as("rapid reset").succeedsWithin(Duration.ofSeconds(10));
                trickler.halfHeaders();
                assertThat(trickler.closed()).as("half a header block").succeedsWithin(Duration.ofSeconds(20));
            }
            try (RawH2Client honest = new RawH2Client(tap, tls, VOTING.dnsName())) {
                // A call without its request message: answered at once, as gRPC does, trailers only.
                Http2Headers answer = honest.request(observe(), true).get(5, TimeUnit.SECONDS);
                assertThat(answer.status()).hasToString("200");
                assertThat(answer.get("grpc-status")).hasToString("13");
            }
        }
    }
}
