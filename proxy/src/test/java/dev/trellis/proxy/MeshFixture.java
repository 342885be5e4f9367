package dev.trellis.proxy;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** A control plane for proxy tests: a real identity service, a fake destination service, and proxies started against them. */
final class MeshFixture implements AutoCloseable {

    static final WorkloadIdentity DESTINATION = TestPki.identity("trellis", "trellis-destination");

    final Path dir;
    final TestPki pki;
    final IdentityServer identity;
    final FakeDestination destination;
    private final List<Proxy> proxies = new ArrayList<>();

    MeshFixture(Path dir) throws Exception {
        this.dir = dir;
        this.pki = TestPki.create(dir);
        this.identity = IdentityServer.start(IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(), pki.issuerKeyFile())
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), AuditLog.sharing(OutputStream.nullOutputStream()), Clock.systemUTC());
        this.destination = new FakeDestination(pki, DESTINATION);
    }

    ProxyConfig config(WorkloadIdentity workload, List<Forward> forwards) throws Exception {
        return config(workload, forwards, Optional.empty(), Duration.ofSeconds(10));
    }

    /** With an outbound listener (explicit HTTP proxy) on a port of its own, and a request timeout. */
    ProxyConfig config(WorkloadIdentity workload, List<Forward> forwards, Optional<HostPort> outbound, Duration requestTimeout)
            throws Exception {
        Path token = dir.resolve(workload.serviceAccount() + ".token");
        Files.writeString(token, LocalTokens.mint(pki.tokenKey().getPrivate(), workload, Duration.ofHours(1), Instant.now()));
        return ProxyConfig.builder(workload)
                .trustAnchorFile(pki.trustAnchorFile()).tokenFile(token)
                .identityService(new HostPort("127.0.0.1", identity.grpcAddress().getPort()))
                .destinationService(new HostPort("127.0.0.1", destination.port())).destinationServiceName(DESTINATION)
                .inbound(new HostPort("127.0.0.1", 0)).outbound(outbound).admin(new HostPort("127.0.0.1", 0))
                .tap(Optional.of(new HostPort("127.0.0.1", 0))).forwards(forwards)
                .appHost(Optional.of("127.0.0.1"))
                .connectTimeout(Duration.ofSeconds(2)).requestTimeout(requestTimeout).shutdownGrace(Duration.ofSeconds(2))
                .connectionLogFile(Optional.of(dir.resolve(workload.serviceAccount() + "-connections.log")))
                .build();
    }

    /** The proxy's metrics, from its admin listener. */
    static String metrics(Proxy proxy) throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + proxy.adminAddress().getPort() + "/metrics")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    /** {@code base} whose inbound side forwards to {@code ports}, as a pod declaring those container ports would. */
    static ProxyConfig declaring(ProxyConfig base, int... ports) {
        return base.toBuilder().declaredPorts(java.util.Arrays.stream(ports).boxed().collect(java.util.stream.Collectors.toSet())).build();
    }

    /** {@code base} pointed at another destination service (a real one), as workload {@code pod}. */
    static ProxyConfig withDestination(ProxyConfig base, int destinationPort, String pod) {
        return base.toBuilder().destinationService(new HostPort("127.0.0.1", destinationPort)).workload(Optional.of(pod)).build();
    }

    /** The real destination service on loopback over {@code cluster}, with a certificate from this fixture's PKI; the caller closes it. */
    dev.trellis.destination.DestinationServer startDestination(dev.trellis.cluster.ClusterSource cluster) throws Exception {
        var config = dev.trellis.destination.DestinationServerConfig.builder(TestPki.TRUST_DOMAIN)
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build();
        var credentials = new dev.trellis.tls.context.CredentialsStore(config.identity(), pki.trustAnchors(), Clock.systemUTC());
        credentials.install(pki.credentialsFor(config.identity(), Duration.ofHours(1)));
        return dev.trellis.destination.DestinationServer.start(config, cluster, credentials, Clock.systemUTC());
    }

    Proxy start(ProxyConfig config) throws Exception {
        Proxy proxy = Proxy.start(config, Clock.systemUTC());
        proxies.add(proxy);
        proxy.credentials().firstInstalled().get(10, java.util.concurrent.TimeUnit.SECONDS);
        return proxy;
    }

    @Override
    public void close() throws Exception {
        for (Proxy proxy : proxies.reversed()) {
            proxy.close();
        }
        destination.close();
        identity.close();
    }
}
