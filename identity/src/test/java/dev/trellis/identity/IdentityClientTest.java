package dev.trellis.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.testing.TestPki;
import dev.trellis.testing.TlsEchoServer;
import dev.trellis.testing.TlsProbe;
import dev.trellis.tls.client.CertifyException;
import dev.trellis.tls.client.IdentityClient;
import dev.trellis.tls.context.Credentials;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import io.grpc.Status;
import io.netty.handler.ssl.ClientAuth;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdentityClientTest {

    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");

    @TempDir
    Path dir;

    private final Clock clock = Clock.systemUTC();
    private TestPki pki;
    private IdentityServer server;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void startIdentityService() throws Exception {
        pki = TestPki.create(dir);
        IdentityServerConfig config = IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(), pki.issuerKeyFile())
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0))
                .leafLifetime(Duration.ofSeconds(5))
                .build();
        server = IdentityServer.start(config, new LocalTokenAuthenticator(pki.tokenKey().getPublic(), clock),
                AuditLog.sharing(OutputStream.nullOutputStream()), clock);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable closeable : closeables.reversed()) {
            closeable.close();
        }
        server.close();
    }

    @Test
    void rotatesAFiveSecondLeafWhileATlsServerKeepsServingAClientThatReconnectsEvery100ms() throws Exception {
        CredentialsStore emoji = new CredentialsStore(EMOJI, pki.trustAnchors(), clock);
        IdentityClient client = client(EMOJI, tokenFile(EMOJI), emoji);
        client.start();
        emoji.firstInstalled().get(10, java.util.concurrent.TimeUnit.SECONDS);

        TlsEchoServer echo = closing(new TlsEchoServer(MeshSslContexts.forServer(emoji, ClientAuth.REQUIRE, List.of(), clock)));
        CredentialsStore web = new CredentialsStore(WEB, pki.trustAnchors(), clock);
        web.install(pki.credentialsFor(WEB, Duration.ofHours(1)));
        TlsProbe probe = closing(new TlsProbe(MeshSslContexts.forClient(pki.trustAnchors(), Optional.of(web), List.of(), clock)));

        Set<BigInteger> serialsSeen = new LinkedHashSet<>();
        List<String> failures = new ArrayList<>();
        int exchanges = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(12).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                TlsProbe.Result result = probe.exchange(echo.address(), EMOJI.dnsName(), "ping " + exchanges);
                assertThat(result.echo()).isEqualTo("ping " + exchanges);
                serialsSeen.add(result.serverLeaf().getSerialNumber());
            } catch (Exception e) {
                failures.add(e.toString());
            }
            exchanges++;
            Thread.sleep(100);
        }

        assertThat(failures).isEmpty();
        assertThat(echo.failedHandshakes()).isZero();
        assertThat(echo.handshakes()).isEqualTo(exchanges);
        assertThat(serialsSeen).as("the initial leaf and at least two rotations").hasSizeGreaterThanOrEqualTo(3);
    }

    @Test
    void certifyReportsTheServersReasonWhenRefused() throws Exception {
        Path wrongToken = dir.resolve("web.token");
        Files.writeString(wrongToken, LocalTokens.mint(pki.tokenKey().getPrivate(), WEB, Duration.ofHours(1), Instant.now()));
        CredentialsStore store = new CredentialsStore(EMOJI, pki.trustAnchors(), clock);
        IdentityClient client = client(EMOJI, wrongToken, store);

        assertThatThrownBy(client::certifyOnce)
                .isInstanceOfSatisfying(CertifyException.class, e -> assertThat(e.code()).isEqualTo(dev.trellis.wire.grpc.GrpcStatus.Code.PERMISSION_DENIED))
                .hasMessageContaining("token for ns/emojivoto/sa/web cannot request ns/emojivoto/sa/emoji");
        assertThat(store.current()).isEmpty();
    }

    @Test
    void refusesToTalkToAServerThatIsNotTheIdentityService() throws Exception {
        CredentialsStore store = new CredentialsStore(EMOJI, pki.trustAnchors(), clock);
        IdentityClient.Config config = new IdentityClient.Config(EMOJI, new HostPort("127.0.0.1", server.grpcAddress().getPort()),
                TestPki.identity("trellis", "impostor"), tokenFile(EMOJI),
                Duration.ofSeconds(1), Duration.ofHours(1), Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofSeconds(5));
        IdentityClient client = closing(new IdentityClient(config, store, clock));

        assertThatThrownBy(client::certifyOnce)
                .isInstanceOfSatisfying(CertifyException.class, e -> assertThat(e.code()).isEqualTo(dev.trellis.wire.grpc.GrpcStatus.Code.UNAVAILABLE));
        assertThat(store.current()).isEmpty();
    }

    @Test
    void keepsRetryingWithBackoffUntilTheServiceAnswers() throws Exception {
        Path token = dir.resolve("late.token");
        CredentialsStore store = new CredentialsStore(EMOJI, pki.trustAnchors(), clock);
        IdentityClient client = client(EMOJI, token, store);
        client.start();
        Thread.sleep(500);
        assertThat(store.current()).isEmpty();
        Files.writeString(token, LocalTokens.mint(pki.tokenKey().getPrivate(), EMOJI, Duration.ofHours(1), Instant.now()));
        await().atMost(Duration.ofSeconds(10)).until(() -> store.current().isPresent());
    }

    @Test
    void aCertificateThatExpiresBecauseTheTokenDidIsNotReadyAndATokenRewrittenInPlaceRecoversIt() throws Exception {
        Path token = dir.resolve("emoji-short.token");
        // Issued so that, with the verifier's 20 s allowance for clock skew, it is good for about 3 s more.
        Files.writeString(token, LocalTokens.mint(pki.tokenKey().getPrivate(), EMOJI, Duration.ofSeconds(3), Instant.now().minusSeconds(20)));
        CredentialsStore store = new CredentialsStore(EMOJI, pki.trustAnchors(), clock);
        IdentityClient client = client(EMOJI, token, store);
        client.start();
        store.firstInstalled().get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(client.notReadyReason(clock.instant())).isEmpty();

        // The token expires, renewals fail, the 5 s leaf runs out: not ready, and the reason says so.
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(client.notReadyReason(clock.instant())).get(org.assertj.core.api.InstanceOfAssertFactories.STRING)
                .contains("the certificate expired at").contains("token"));
        assertThat(client.consecutiveFailures()).isPositive();

        // A kubelet rewrites a projected token in place: the next renewal reads it, and the workload is ready again.
        Files.writeString(token, LocalTokens.mint(pki.tokenKey().getPrivate(), EMOJI, Duration.ofHours(1), Instant.now()));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(client.notReadyReason(clock.instant())).isEmpty());
        assertThat(client.consecutiveFailures()).isZero();
    }

    @Test
    void theStoreNeverInstallsAnExpiredCertificate() throws Exception {
        CredentialsStore store = new CredentialsStore(EMOJI, pki.trustAnchors(), Clock.offset(clock, Duration.ofHours(2)));
        Credentials shortLived = pki.credentialsFor(EMOJI, Duration.ofHours(1));
        assertThatThrownBy(() -> store.install(shortLived)).hasMessageContaining("does not verify");
        assertThat(store.current()).isEmpty();
    }

    private IdentityClient client(WorkloadIdentity identity, Path tokenFile, CredentialsStore store) throws Exception {
        IdentityClient.Config config = new IdentityClient.Config(identity, new HostPort("127.0.0.1", server.grpcAddress().getPort()),
                dev.trellis.core.identity.ControlPlaneComponent.IDENTITY.identity(TestPki.TRUST_DOMAIN), tokenFile,
                Duration.ofSeconds(1), Duration.ofHours(1), Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofSeconds(5));
        return closing(new IdentityClient(config, store, clock));
    }

    private Path tokenFile(WorkloadIdentity identity) throws Exception {
        Path file = dir.resolve(identity.serviceAccount() + ".token");
        Files.writeString(file, LocalTokens.mint(pki.tokenKey().getPrivate(), identity, Duration.ofHours(1), Instant.now()));
        return file;
    }

    private <T extends AutoCloseable> T closing(T closeable) {
        closeables.add(closeable);
        return closeable;
    }
}
