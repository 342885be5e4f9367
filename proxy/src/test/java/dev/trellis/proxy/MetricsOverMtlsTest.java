package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.viz.MeshScraper;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Threat-model findings 7 and 9: a proxy's metrics and tap leave it only over mTLS, and only to the viz identity. */
class MetricsOverMtlsTest {

    private static final WorkloadIdentity VOTING = TestPki.identity("emojivoto", "voting");

    @TempDir
    Path dir;

    @Test
    void onlyTheVizIdentityGetsTheMetrics() throws Exception {
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Proxy proxy = mesh.start(mesh.config(VOTING, List.of()));
            InetSocketAddress inbound = proxy.inboundAddress();

            try (MeshScraper viz = scraper(mesh, TestPki.identity("trellis", "trellis-viz"))) {
                String text = viz.scrape(inbound, VOTING).get(10, TimeUnit.SECONDS);
                assertThat(text).contains("identity_cert_expiration_timestamp_seconds").contains("trellis_build_info");
                // The proxy must be who the cluster says: expecting another identity fails the handshake.
                assertThatThrownBy(() -> viz.scrape(inbound, TestPki.identity("emojivoto", "web")).get(10, TimeUnit.SECONDS))
                        .hasMessageContaining("TLS");
            }
            try (MeshScraper web = scraper(mesh, TestPki.identity("emojivoto", "web"))) {
                assertThatThrownBy(() -> web.scrape(inbound, VOTING).get(10, TimeUnit.SECONDS))
                        .hasMessageContaining("403").hasMessageContaining("viz identity only");
            }
        }
    }

    @Test
    void onlyTheVizIdentityMayTap() throws Exception {
        try (MeshFixture mesh = new MeshFixture(dir)) {
            Proxy proxy = mesh.start(mesh.config(VOTING, List.of()));
            WorkloadIdentity web = TestPki.identity("emojivoto", "web");
            CredentialsStore store = new CredentialsStore(web, mesh.pki.trustAnchors(), Clock.systemUTC());
            store.install(mesh.pki.credentialsFor(web, Duration.ofHours(1)));
            var ended = new java.util.concurrent.CompletableFuture<String>();
            new dev.trellis.viz.TapClient(MeshSslContexts.forGrpcClient(mesh.pki.trustAnchors(), Optional.of(store), Clock.systemUTC()))
                    .observe(proxy.tapAddress().orElseThrow(), VOTING, dev.trellis.api.tap.v1.Match.getDefaultInstance(), 5, event -> { }, ended::complete);
            assertThat(ended.get(10, TimeUnit.SECONDS)).contains("PERMISSION_DENIED").contains("trellis-viz");
        }
    }

    private static MeshScraper scraper(MeshFixture mesh, WorkloadIdentity as) throws Exception {
        CredentialsStore store = new CredentialsStore(as, mesh.pki.trustAnchors(), Clock.systemUTC());
        store.install(mesh.pki.credentialsFor(as, Duration.ofHours(1)));
        return new MeshScraper(MeshSslContexts.forClient(mesh.pki.trustAnchors(), Optional.of(store), List.of("h2"), Clock.systemUTC()), Duration.ofSeconds(3));
    }
}
