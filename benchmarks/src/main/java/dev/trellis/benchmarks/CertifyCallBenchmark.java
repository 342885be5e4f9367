package dev.trellis.benchmarks;

import com.google.protobuf.ByteString;
import dev.trellis.api.identity.v1.CertifyRequest;
import dev.trellis.api.identity.v1.CertifyResponse;
import dev.trellis.api.identity.v1.IdentityGrpc;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.ratelimit.RateLimit;
import dev.trellis.identity.service.CertifyLimits;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.CertificateRequests;
import dev.trellis.tls.pki.EcKeys;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A whole Certify call on loopback: gRPC over TLS 1.3 (BoringSSL), token verification,
 * rate-limit checks, CSR validation, signing and the audit line (to a null stream), from
 * one client channel. Limits are raised so that the benchmark measures work, not refusals.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class CertifyCallBenchmark {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");

    private Path dir;
    private IdentityServer server;
    private ManagedChannel channel;
    private CertifyRequest request;

    @Setup
    public void setUp() throws Exception {
        dir = Files.createTempDirectory("trellis-bench");
        TestPki pki = TestPki.create(dir);
        IdentityServerConfig config = IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(), pki.issuerKeyFile())
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0))
                .limits(new CertifyLimits(RateLimit.parse("1000000/s,1000000"), RateLimit.parse("1000000/s,1000000"), 64))
                .build();
        server = IdentityServer.start(config, new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()),
                AuditLog.sharing(OutputStream.nullOutputStream()), Clock.systemUTC());
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcAddress().getPort())
                .sslContext(MeshSslContexts.forGrpcClient(pki.trustAnchors(), Optional.empty(), Clock.systemUTC()))
                .overrideAuthority(config.serverIdentity().dnsName())
                .build();
        request = CertifyRequest.newBuilder()
                .setIdentity(WEB.spiffeId())
                .setToken(LocalTokens.mint(pki.tokenKey().getPrivate(), WEB, Duration.ofHours(2), Instant.now()))
                .setCsrDer(ByteString.copyFrom(CertificateRequests.create(EcKeys.generateP256(), WEB)))
                .build();
    }

    @Benchmark
    public CertifyResponse certify() {
        return IdentityGrpc.newBlockingStub(channel).certify(request);
    }

    @TearDown
    public void tearDown() throws Exception {
        channel.shutdownNow();
        server.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
