package dev.trellis.benchmarks;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The control plane for {@code bench/proxy-tcp.sh}: a real identity service and, until the
 * destination service exists, the test suite's fake destination service, announcing one
 * authority. Writes what the proxies need into a directory, then runs until killed.
 *
 * <p>Usage: {@code BenchControlPlane <dir> <server-proxy-inbound-port> <authority>=<backend-port>...}.
 * Writes {@code trust-anchor.pem}, {@code web.token}, {@code emoji.token} and {@code env}
 * (shell variables IDENTITY_ADDR, DESTINATION_ADDR) into {@code dir}.
 */
public final class BenchControlPlane {

    private BenchControlPlane() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int serverInboundPort = Integer.parseInt(args[1]);
        Files.createDirectories(dir);
        TestPki pki = TestPki.create(dir);
        WorkloadIdentity web = TestPki.identity("bench", "web");
        WorkloadIdentity emoji = TestPki.identity("bench", "emoji");
        IdentityServer identity = IdentityServer.start(
                IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(), pki.issuerKeyFile())
                        .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), AuditLog.sharing(OutputStream.nullOutputStream()),
                Clock.systemUTC());
        FakeDestination destination = new FakeDestination(pki, dev.trellis.core.identity.ControlPlaneComponent.DESTINATION.identity(TestPki.TRUST_DOMAIN));
        for (int i = 2; i < args.length; i++) {
            String[] pair = args[i].split("=", 2);
            destination.set(pair[0], List.of(FakeDestination.endpoint("127.0.0.1", Integer.parseInt(pair[1]), emoji, serverInboundPort)));
        }
        for (WorkloadIdentity workload : List.of(web, emoji)) {
            Files.writeString(dir.resolve(workload.serviceAccount() + ".token"),
                    LocalTokens.mint(pki.tokenKey().getPrivate(), workload, Duration.ofHours(12), Instant.now()));
        }
        Files.writeString(dir.resolve("env"), "IDENTITY_ADDR=127.0.0.1:" + identity.grpcAddress().getPort() + "\n"
                + "DESTINATION_ADDR=127.0.0.1:" + destination.port() + "\n");
        System.out.println("bench control plane ready in " + dir);
        Thread.currentThread().join();
    }
}
