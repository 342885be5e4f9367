package dev.trellis.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.rpc.RetryInfo;
import dev.trellis.api.identity.v1.CertifyRequest;
import dev.trellis.api.identity.v1.CertifyResponse;
import dev.trellis.api.identity.v1.IdentityGrpc;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.ratelimit.RateLimit;
import dev.trellis.identity.service.CertifyLimits;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.CertificateRequests;
import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.MeshCertificates;
import dev.trellis.tls.pki.Pem;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdentityServerTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity DB = TestPki.identity("emojivoto", "db");

    @TempDir
    Path dir;

    private final ByteArrayOutputStream audit = new ByteArrayOutputStream();
    private final HttpClient http = HttpClient.newHttpClient();
    private TestPki pki;
    private IdentityServer server;
    private ManagedChannel channel;

    @AfterEach
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aCallerWithAValidTokenGetsALeafForItsIdentityThatVerifies() throws Exception {
        start(config());
        KeyPair keys = EcKeys.generateP256();

        CertifyResponse response = certify(WEB, token(WEB), CertificateRequests.create(keys, WEB));

        List<X509Certificate> chain = chain(response);
        assertThat(MeshCertificates.identityOf(chain.getFirst())).isEqualTo(WEB);
        assertThat(chain.getFirst().getPublicKey()).isEqualTo(keys.getPublic());
        assertThat(pki.trustAnchors().verifyLeaf(chain, Instant.now())).isEqualTo(WEB);
        assertThat(response.getValidUntil().getSeconds()).isEqualTo(chain.getFirst().getNotAfter().toInstant().getEpochSecond());
        assertThat(auditLines()).anySatisfy(line -> assertThat(line)
                .contains("\"outcome\":\"issued\"")
                .contains("\"authenticated_identity\":\"" + WEB.spiffeId() + "\"")
                .contains("\"serial\":\"" + chain.getFirst().getSerialNumber().toString(16) + "\"")
                .contains("\"not_after\":"));
    }

    @Test
    void aRapidResetFloodGetsGoAwayWhileAnotherCallerIsServed() throws Exception {
        start(config());
        try (dev.trellis.testing.RawH2Client attacker = new dev.trellis.testing.RawH2Client(server.grpcAddress(),
                MeshSslContexts.forClient(pki.trustAnchors(), Optional.empty(), List.of("h2"), Clock.systemUTC()),
                dev.trellis.core.identity.ControlPlaneComponent.IDENTITY.identity(TestPki.TRUST_DOMAIN).dnsName())) {
            var headers = new io.netty.handler.codec.http2.DefaultHttp2Headers().method("POST").scheme("https").authority("identity")
                    .path("/trellis.identity.v1.Identity/Certify").set("content-type", "application/grpc").set("te", "trailers");
            attacker.rapidReset(20_000, headers);
            // CVE-2023-44487: the server sends GOAWAY (too_many_rststreams) and closes the connection, long before 20,000
            // streams. Closing a socket that still holds unread attack bytes makes the kernel send RST, which may
            // discard the GOAWAY on the client's side; the close is what a client reliably sees.
            assertThat(attacker.closed()).succeedsWithin(Duration.ofSeconds(10));
            assertThat(attacker.failure().getNow(null)).as("the connection broke on the server's side").isNull();
        }
        // Meanwhile, and after, an honest caller gets its certificate.
        KeyPair keys = EcKeys.generateP256();
        assertThat(MeshCertificates.identityOf(chain(certify(WEB, token(WEB), CertificateRequests.create(keys, WEB))).getFirst())).isEqualTo(WEB);
    }

    @Test
    void aTokenForOneServiceAccountCannotRequestAnother() throws Exception {
        start(config());

        assertThatThrownBy(() -> certify(DB, token(WEB), CertificateRequests.create(EcKeys.generateP256(), DB)))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                    assertThat(e.getStatus().getDescription()).isEqualTo("identity: token for ns/emojivoto/sa/web cannot request ns/emojivoto/sa/db");
                });
        assertThat(auditLines()).anySatisfy(line -> assertThat(line)
                .contains("\"peer\":\"127.0.0.1\"")
                .contains("\"requested_identity\":\"" + DB.spiffeId() + "\"")
                .contains("\"authenticated_identity\":\"" + WEB.spiffeId() + "\"")
                .contains("\"outcome\":\"refused\"")
                .contains("cannot request ns/emojivoto/sa/db"));
    }

    @Test
    void badCsrsAreRefusedWithTheirReason() throws Exception {
        start(config());
        KeyPair keys = EcKeys.generateP256();

        byte[] extraSan = csr(keys, new GeneralName(GeneralName.uniformResourceIdentifier, WEB.spiffeId()),
                new GeneralName(GeneralName.dNSName, "db.emojivoto.svc.cluster.local"));
        assertRefused(() -> certify(WEB, token(WEB), extraSan), Status.Code.INVALID_ARGUMENT, "DNS:db.emojivoto.svc.cluster.local");

        java.security.KeyPairGenerator rsa = java.security.KeyPairGenerator.getInstance("RSA");
        rsa.initialize(2048);
        byte[] rsaCsr = new JcaPKCS10CertificationRequestBuilder(new X500Name(""), rsa.generateKeyPair().getPublic())
                .build(new JcaContentSignerBuilder("SHA256withRSA").build(rsa.generateKeyPair().getPrivate())).getEncoded();
        assertRefused(() -> certify(WEB, token(WEB), rsaCsr), Status.Code.INVALID_ARGUMENT, "key must be ECDSA P-256, got RSA");

        byte[] badSignature = CertificateRequests.create(keys, WEB);
        badSignature[badSignature.length - 5] ^= 0x01;
        assertRefused(() -> certify(WEB, token(WEB), badSignature), Status.Code.INVALID_ARGUMENT, "signature does not verify");

        assertRefused(() -> certify(WEB, token(WEB), new byte[5000]), Status.Code.INVALID_ARGUMENT, "over the 4096-byte limit");
        assertThat(auditLines()).filteredOn(l -> l.contains("\"outcome\":\"refused\"")).hasSize(4);
    }

    @Test
    void badTokensAndRequestsAreRefusedBeforeAnythingIsSigned() throws Exception {
        start(config());
        byte[] csr = CertificateRequests.create(EcKeys.generateP256(), WEB);
        assertRefused(() -> certify(WEB, "", csr), Status.Code.UNAUTHENTICATED, "identity: no token");
        assertRefused(() -> certify(WEB, "not.a.token", csr), Status.Code.UNAUTHENTICATED, "local token:");
        String foreign = LocalTokens.mint(EcKeys.generateP256().getPrivate(), WEB, Duration.ofHours(1), Instant.now());
        assertRefused(() -> certify(WEB, foreign, csr), Status.Code.UNAUTHENTICATED, "signature does not verify");
        assertRefused(() -> rawCertify("spiffe://cluster.local/ns/x", token(WEB), csr), Status.Code.INVALID_ARGUMENT, "is not of the form");
        assertRefused(() -> rawCertify("spiffe://other.org/ns/emojivoto/sa/web", token(WEB), csr), Status.Code.PERMISSION_DENIED,
                "trust domain other.org is not this CA's (cluster.local)");
        assertRefused(() -> rawCertify(WEB.spiffeId(), "x".repeat(40_000), csr), Status.Code.RESOURCE_EXHAUSTED, "");
    }

    @Test
    void oneIdentityFloodingIsLimitedWhileAnotherStillGetsItsCertificate() throws Exception {
        start(config().limits(new CertifyLimits(RateLimit.parse("10000/s,10000"), RateLimit.parse("20/s,50"), 2)));
        String webToken = token(WEB);
        byte[] webCsr = CertificateRequests.create(EcKeys.generateP256(), WEB);

        ExecutorService flood = Executors.newFixedThreadPool(16);
        List<Future<Optional<StatusRuntimeException>>> calls = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            calls.add(flood.submit(() -> {
                try {
                    certify(WEB, webToken, webCsr);
                    return Optional.empty();
                } catch (StatusRuntimeException e) {
                    return Optional.of(e);
                }
            }));
        }
        // While the flood runs, another identity asks, as the proxy's identity client does: a "busy signing"
        // answer (both signing slots taken by the flood's allowed burst) is asked again after its retry hint.
        long started = System.nanoTime();
        String dbToken = token(DB);
        byte[] dbCsr = CertificateRequests.create(EcKeys.generateP256(), DB);
        CertifyResponse other = null;
        for (int attempt = 0; other == null; attempt++) {
            try {
                other = certify(DB, dbToken, dbCsr);
            } catch (StatusRuntimeException busy) {
                if (attempt >= 20 || busy.getStatus().getCode() != Status.Code.RESOURCE_EXHAUSTED
                        || !String.valueOf(busy.getStatus().getDescription()).contains("busy signing")) {
                    throw busy;
                }
                Thread.sleep(100);
            }
        }
        Duration otherTook = Duration.ofNanos(System.nanoTime() - started);

        List<Status.Code> codes = new ArrayList<>();
        List<StatusRuntimeException> refusals = new ArrayList<>();
        for (Future<Optional<StatusRuntimeException>> call : calls) {
            Optional<StatusRuntimeException> failure = call.get(30, TimeUnit.SECONDS);
            codes.add(failure.map(e -> e.getStatus().getCode()).orElse(Status.Code.OK));
            failure.ifPresent(refusals::add);
        }
        flood.shutdown();

        assertThat(MeshCertificates.identityOf(chain(other).getFirst())).isEqualTo(DB);
        assertThat(otherTook).as("the other identity served within a few retry hints").isLessThan(Duration.ofSeconds(2));
        assertThat(codes).contains(Status.Code.RESOURCE_EXHAUSTED);
        // The flood is held back by its identity's own limit, not only by busy signing slots.
        StatusRuntimeException limited = refusals.stream()
                .filter(e -> String.valueOf(e.getStatus().getDescription()).contains("too many requests for")).findFirst().orElseThrow();
        assertThat(codes).containsOnly(Status.Code.OK, Status.Code.RESOURCE_EXHAUSTED);
        assertThat(auditLines()).anySatisfy(line -> assertThat(line).contains("\"outcome\":\"rate_limited\""));

        assertThat(limited.getStatus().getDescription()).contains("too many requests for ns/emojivoto/sa/web; retry after");
        RetryInfo retry = StatusProto.fromThrowable(limited).getDetails(0).unpack(RetryInfo.class);
        assertThat(retry.getRetryDelay().getNanos() + retry.getRetryDelay().getSeconds()).isPositive();
        assertThat(scrape()).contains("identity_rate_limited_total{scope=\"identity\"}");
    }

    @Test
    void replacingTheIssuerFilesRotatesTheIssuerWithoutARestart() throws Exception {
        start(config().issuerReloadInterval(Duration.ofMillis(200)));
        CertifyResponse before = certify(WEB, token(WEB), CertificateRequests.create(EcKeys.generateP256(), WEB));
        assertThat(chain(before).get(1)).isEqualTo(pki.issuer().certificate());

        CaCredentials rotated = pki.rotateIssuer();

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            CertifyResponse after = certify(WEB, token(WEB), CertificateRequests.create(EcKeys.generateP256(), WEB));
            List<X509Certificate> chain = chain(after);
            assertThat(chain.get(1)).isEqualTo(rotated.certificate());
            chain.getFirst().verify(rotated.certificate().getPublicKey());
            assertThat(pki.trustAnchors().verifyLeaf(chain, Instant.now())).isEqualTo(WEB);
        });
        assertThat(scrape()).contains("identity_issuer_reloads_total{result=\"loaded\"} 2.0");
    }

    @Test
    void anIssuerThatDoesNotChainToTheAnchorIsNotLoaded() throws Exception {
        start(config().issuerReloadInterval(Duration.ofMillis(200)));
        CaCredentials strangerAnchor = dev.trellis.tls.pki.CaCertificates.newTrustAnchor("cluster.local", Duration.ofDays(1), Instant.now());
        CaCredentials stranger = dev.trellis.tls.pki.CaCertificates.newIssuer(strangerAnchor, "cluster.local", Duration.ofDays(1), Instant.now());
        Pem.writeSecret(pki.issuerKeyFile(), Pem.encodePrivateKey(stranger.key()), true);
        Pem.writePublic(pki.issuerCertificateFile(), Pem.encodeCertificates(stranger.chain()), true);

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(scrape()).contains("identity_issuer_reloads_total{result=\"rejected\"}"));
        CertifyResponse still = certify(WEB, token(WEB), CertificateRequests.create(EcKeys.generateP256(), WEB));
        assertThat(chain(still).get(1)).isEqualTo(pki.issuer().certificate());
    }

    @Test
    void withoutAnIssuerTheServiceIsUnavailableAndNotReady() throws Exception {
        pki = TestPki.create(dir);
        java.nio.file.Files.delete(pki.issuerKeyFile());
        server = IdentityServer.start(serverConfig().build(), new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()),
                AuditLog.sharing(audit), Clock.systemUTC());
        HttpResponse<String> ready = get("/ready");
        assertThat(ready.statusCode()).isEqualTo(503);
        assertThat(ready.body()).contains("no valid issuer loaded");
        assertThat(get("/live").statusCode()).isEqualTo(200);
    }

    @Test
    void debugPagesAnswer404UnlessStartedWithDebug() throws Exception {
        start(config());
        assertThat(get("/debug/threads").statusCode()).isEqualTo(404);
        assertThat(get("/debug/pprof/profile").statusCode()).isEqualTo(404);
        assertThat(get("/ready").statusCode()).isEqualTo(200);
        assertThat(get("/metrics").body()).contains("identity_certs_issued_total");
        server.close();

        server = IdentityServer.start(serverConfig().debug(true).build(), new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()),
                AuditLog.sharing(audit), Clock.systemUTC());
        HttpResponse<String> threads = get("/debug/threads");
        assertThat(threads.statusCode()).isEqualTo(200);
        assertThat(threads.body()).contains("trellis-identity");
    }

    @Test
    void theAdminServerRefusesBodiesOtherMethodsAndHugeHeaders() throws Exception {
        start(config());
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(admin("/ready")).POST(HttpRequest.BodyPublishers.ofString("x")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isIn(405, 413);
        HttpResponse<String> huge = http.send(HttpRequest.newBuilder(admin("/live")).header("X-Big", "a".repeat(20_000)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(huge.statusCode()).isIn(400, 431);
    }

    @Test
    void aTakenPortIsAClearError() throws Exception {
        start(config());
        HostPort taken = new HostPort("127.0.0.1", server.grpcAddress().getPort());
        assertThatThrownBy(() -> IdentityServer.start(serverConfig().listen(taken).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), AuditLog.sharing(audit), Clock.systemUTC()))
                .isInstanceOf(java.io.IOException.class)
                .hasMessageStartingWith("identity: cannot listen on " + taken);
    }

    @Test
    void anOversizedIssuerFileIsRejectedAndTheIssuerKept() throws Exception {
        start(config().issuerReloadInterval(Duration.ofMillis(200)));
        java.nio.file.Files.write(pki.issuerCertificateFile(), new byte[Pem.MAX_FILE_BYTES + 1]);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(scrape()).contains("identity_issuer_reloads_total{result=\"rejected\"}"));
        assertThat(certify(WEB, token(WEB), CertificateRequests.create(EcKeys.generateP256(), WEB)).getLeafDer()).isNotEmpty();
    }

    // --- helpers ---

    private IdentityServerConfig.Builder config() {
        pki = TestPki.create(dir);
        return serverConfig();
    }

    private IdentityServerConfig.Builder serverConfig() {
        return IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(), pki.issuerKeyFile())
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0));
    }

    private void start(IdentityServerConfig.Builder builder) throws Exception {
        IdentityServerConfig config = builder.build();
        server = IdentityServer.start(config, new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()),
                AuditLog.sharing(audit), Clock.systemUTC());
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcAddress().getPort())
                .sslContext(MeshSslContexts.forGrpcClient(pki.trustAnchors(), Optional.empty(), Clock.systemUTC()))
                .overrideAuthority(config.serverIdentity().dnsName())
                .build();
    }

    private String token(WorkloadIdentity identity) {
        return LocalTokens.mint(pki.tokenKey().getPrivate(), identity, Duration.ofHours(1), Instant.now());
    }

    private CertifyResponse certify(WorkloadIdentity identity, String token, byte[] csr) {
        return rawCertify(identity.spiffeId(), token, csr);
    }

    private CertifyResponse rawCertify(String identity, String token, byte[] csr) {
        return IdentityGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                .certify(CertifyRequest.newBuilder().setIdentity(identity).setToken(token).setCsrDer(ByteString.copyFrom(csr)).build());
    }

    private static List<X509Certificate> chain(CertifyResponse response) throws Exception {
        List<X509Certificate> chain = new ArrayList<>();
        chain.add(Pem.fromDer(response.getLeafDer().toByteArray(), "leaf"));
        for (ByteString der : response.getIntermediatesDerList()) {
            chain.add(Pem.fromDer(der.toByteArray(), "intermediate"));
        }
        return chain;
    }

    private static byte[] csr(KeyPair keys, GeneralName... names) throws Exception {
        ExtensionsGenerator extensions = new ExtensionsGenerator();
        extensions.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
        return new JcaPKCS10CertificationRequestBuilder(new X500Name(""), keys.getPublic())
                .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())).getEncoded();
    }

    private List<String> auditLines() {
        return audit.toString(StandardCharsets.UTF_8).lines().toList();
    }

    private URI admin(String path) {
        return URI.create("http://127.0.0.1:" + server.adminAddress().getPort() + path);
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(admin(path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private String scrape() throws Exception {
        return get("/metrics").body();
    }

    private static void assertRefused(Runnable call, Status.Code code, String message) {
        StatusRuntimeException e = assertThrows(call::run);
        assertThat(e.getStatus().getCode()).isEqualTo(code);
        assertThat(String.valueOf(e.getStatus().getDescription())).contains(message);
    }

    private static StatusRuntimeException assertThrows(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e;
        }
        throw new AssertionError("expected the call to fail");
    }
}
