package dev.trellis.tls.context;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.CaCertificates;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.CertificateRequests;
import dev.trellis.tls.pki.CsrValidator;
import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.IssuedLeaf;
import dev.trellis.tls.pki.LeafIssuer;
import dev.trellis.tls.pki.MeshCertificates;
import dev.trellis.tls.pki.TrustAnchors;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MeshSslContextsTest {

    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");
    private static final WorkloadIdentity EMOJI = new WorkloadIdentity("cluster.local", "emojivoto", "emoji");

    private final Clock clock = Clock.systemUTC();
    private final CaCredentials anchor = CaCertificates.newTrustAnchor("cluster.local", Duration.ofDays(1), Instant.now());
    private final CaCredentials issuer = CaCertificates.newIssuer(anchor, "cluster.local", Duration.ofDays(1), Instant.now());
    private final TrustAnchors anchors = TrustAnchors.of(List.of(anchor.certificate()));
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void usesBoringSslWhenItLoads() {
        assertThat(OpenSsl.isAvailable()).as("netty-tcnative BoringSSL should load on linux-x86_64").isTrue();
        assertThat(MeshSslContexts.providerDescription()).contains("BoringSSL");
    }

    @Test
    void mutualTls13HandshakeTellsBothSidesTheirPeersIdentity() throws Exception {
        CredentialsStore server = store(EMOJI);
        CredentialsStore client = store(WEB);
        CompletableFuture<Optional<WorkloadIdentity>> seenByServer = new CompletableFuture<>();
        Channel listener = serve(MeshSslContexts.forServer(server, ClientAuth.REQUIRE, List.of(), clock), seenByServer);
        SslHandler ssl = connect(MeshSslContexts.forClient(anchors, Optional.of(client), List.of(), clock), listener, EMOJI.dnsName());

        assertThat(ssl.engine().getSession().getProtocol()).isEqualTo("TLSv1.3");
        assertThat(MeshSslContexts.peerIdentity(ssl.engine().getSession())).contains(EMOJI);
        assertThat(seenByServer.get(5, TimeUnit.SECONDS)).contains(WEB);
        listener.close().sync();
    }

    @Test
    void bothSidesSettleOnTheHybridPostQuantumGroupAndOnX25519WhenOneSideIsClassical() throws Exception {
        CompletableFuture<Optional<WorkloadIdentity>> seen = new CompletableFuture<>();
        Channel hybridServer = serve(MeshSslContexts.forServer(store(EMOJI), ClientAuth.REQUIRE, List.of(), clock), seen);
        SslHandler hybrid = connect(MeshSslContexts.forClient(anchors, Optional.of(store(WEB)), List.of(), clock), hybridServer, EMOJI.dnsName());
        assertThat(MeshSslContexts.negotiatedGroup(hybrid.engine())).contains(KeyExchange.HYBRID_GROUP);
        assertThat(hybrid.engine().getSession().getCipherSuite()).isIn("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256");

        SslHandler classicalClient = connect(MeshSslContexts.forClient(anchors, Optional.of(store(WEB)), List.of(), clock, KeyExchange.CLASSICAL),
                hybridServer, EMOJI.dnsName());
        assertThat(MeshSslContexts.negotiatedGroup(classicalClient.engine())).contains("X25519");
        hybridServer.close().sync();
    }

    @Test
    void clientRefusesAServerWithAnotherIdentity() throws Exception {
        Channel listener = serve(MeshSslContexts.forServer(store(EMOJI), ClientAuth.REQUIRE, List.of(), clock), new CompletableFuture<>());
        SslContext client = MeshSslContexts.forClient(anchors, Optional.of(store(WEB)), List.of(), clock);
        assertThatThrownBy(() -> connect(client, listener, "voting.emojivoto.serviceaccount.identity.trellis.cluster.local"))
                .isInstanceOf(ExecutionException.class)
                .satisfies(e -> assertThat(IdentityMismatchException.in(e)).get()
                        .satisfies(mismatch -> assertThat(mismatch.presented()).isEqualTo(EMOJI))
                        .hasToString(IdentityMismatchException.class.getName()
                                + ": tls: expected spiffe://cluster.local/ns/emojivoto/sa/voting, the server presented spiffe://cluster.local/ns/emojivoto/sa/emoji"));
        listener.close().sync();
    }

    @Test
    void aClientCertificateFromAnotherCaGetsTheUnknownCaAlert() throws Exception {
        Channel listener = serve(MeshSslContexts.forServer(store(EMOJI), ClientAuth.REQUIRE, List.of(), clock), new CompletableFuture<>());
        CaCredentials foreignAnchor = CaCertificates.newTrustAnchor("cluster.local", Duration.ofDays(1), Instant.now());
        CaCredentials foreignIssuer = CaCertificates.newIssuer(foreignAnchor, "cluster.local", Duration.ofDays(1), Instant.now());
        Credentials foreign = credentials(WEB, foreignIssuer);
        assertThat(alertReceivedBy(foreign.key(), foreign.chain(), listener)).contains("unknown_ca");
        listener.close().sync();
    }

    @Test
    void aClientCertificateWithoutAMeshIdentityGetsTheBadCertificateAlert() throws Exception {
        Channel listener = serve(MeshSslContexts.forServer(store(EMOJI), ClientAuth.REQUIRE, List.of(), clock), new CompletableFuture<>());
        KeyPair keys = EcKeys.generateP256();
        Instant now = Instant.now();
        // Signed by the mesh's own issuer, but naming no SPIFFE identity: a certificate, not a mesh identity.
        X509Certificate plain = new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(
                new org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder(issuer.certificate(), java.math.BigInteger.valueOf(now.toEpochMilli()),
                        java.util.Date.from(now.minusSeconds(60)), java.util.Date.from(now.plusSeconds(3600)),
                        new javax.security.auth.x500.X500Principal("CN=not-a-workload"), keys.getPublic())
                        .build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(issuer.key())));
        assertThat(alertReceivedBy(keys.getPrivate(), List.of(plain, issuer.certificate()), listener)).contains("bad_certificate");
        listener.close().sync();
    }

    /** Connects with the JDK's own TLS client presenting {@code chain}, and returns the message of the alert the server sent. */
    private static String alertReceivedBy(java.security.PrivateKey key, List<X509Certificate> chain, Channel listener) throws Exception {
        java.security.KeyStore keyStore = java.security.KeyStore.getInstance("PKCS12");
        keyStore.load(null, null);
        keyStore.setKeyEntry("client", key, new char[0], chain.toArray(X509Certificate[]::new));
        javax.net.ssl.KeyManagerFactory keys = javax.net.ssl.KeyManagerFactory.getInstance("PKIX");
        keys.init(keyStore, new char[0]);
        javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
        context.init(keys.getKeyManagers(), new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] c, String a) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] c, String a) {
                // this test is about what the server says of the client
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        InetSocketAddress address = (InetSocketAddress) listener.localAddress();
        try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) context.getSocketFactory().createSocket(address.getAddress(), address.getPort())) {
            socket.setSoTimeout(5000);
            socket.startHandshake();
            // TLS 1.3: the client's side completes first; the server's verdict arrives as an alert on the next read
            // (reading, not writing: a write may meet the closed socket before the alert has been read).
            socket.getInputStream().read();
            return "no alert";
        } catch (javax.net.ssl.SSLException alert) {
            return alert.getMessage();
        }
    }

    @Test
    void serverRefusesAClientWithoutACertificate() throws Exception {
        CompletableFuture<Optional<WorkloadIdentity>> seenByServer = new CompletableFuture<>();
        Channel listener = serve(MeshSslContexts.forServer(store(EMOJI), ClientAuth.REQUIRE, List.of(), clock), seenByServer);
        SslContext anonymous = MeshSslContexts.forClient(anchors, Optional.empty(), List.of(), clock);
        try {
            // In TLS 1.3 the client may finish its side before the server has checked it.
            connect(anonymous, listener, EMOJI.dnsName());
        } catch (ExecutionException expected) {
            // refused during the client's own handshake
        }
        assertThatThrownBy(() -> seenByServer.get(5, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class);
        listener.close().sync();
    }

    @Test
    void serverPresentsWhateverIsCurrentAtEachHandshake() throws Exception {
        CredentialsStore server = store(EMOJI);
        Channel listener = serve(MeshSslContexts.forServer(server, ClientAuth.REQUIRE, List.of(), clock), new CompletableFuture<>());
        SslContext client = MeshSslContexts.forClient(anchors, Optional.of(store(WEB)), List.of(), clock);
        X509Certificate first = (X509Certificate) connect(client, listener, EMOJI.dnsName()).engine().getSession().getPeerCertificates()[0];
        server.install(credentials(EMOJI));
        X509Certificate second = (X509Certificate) connect(client, listener, EMOJI.dnsName()).engine().getSession().getPeerCertificates()[0];
        assertThat(second.getSerialNumber()).isNotEqualTo(first.getSerialNumber());
        assertThat(second).isEqualTo(server.current().orElseThrow().leaf());
        listener.close().sync();
    }

    @Test
    void storeRefusesCredentialsForAnotherIdentity() {
        CredentialsStore store = new CredentialsStore(WEB, anchors, clock);
        assertThatThrownBy(() -> store.install(credentials(EMOJI)))
                .hasMessageContaining("is for " + EMOJI + ", this workload is " + WEB);
        assertThat(store.current()).isEmpty();
    }

    private CredentialsStore store(WorkloadIdentity identity) throws Exception {
        CredentialsStore store = new CredentialsStore(identity, anchors, clock);
        store.install(credentials(identity));
        return store;
    }

    private Credentials credentials(WorkloadIdentity identity) throws Exception {
        return credentials(identity, issuer);
    }

    private static Credentials credentials(WorkloadIdentity identity, CaCredentials issuer) throws Exception {
        KeyPair keys = EcKeys.generateP256();
        IssuedLeaf leaf = new LeafIssuer(issuer).issue(new CsrValidator().validate(CertificateRequests.create(keys, identity), identity),
                Duration.ofHours(1), Instant.now());
        return new Credentials(identity, keys.getPrivate(), leaf.chain());
    }

    private Channel serve(SslContext context, CompletableFuture<Optional<WorkloadIdentity>> clientIdentity) throws InterruptedException {
        return new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SslHandler ssl = context.newHandler(ch.alloc());
                        ssl.handshakeFuture().addListener(f -> {
                            if (f.isSuccess()) {
                                X509Certificate peer = (X509Certificate) ssl.engine().getSession().getPeerCertificates()[0];
                                clientIdentity.complete(Optional.of(MeshCertificates.identityOf(peer)));
                            } else {
                                clientIdentity.completeExceptionally(f.cause());
                            }
                        });
                        ch.pipeline().addLast(ssl, new SimpleChannelInboundHandler<ByteBuf>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
                                ctx.writeAndFlush(msg.retain());
                            }
                        });
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    private SslHandler connect(SslContext context, Channel listener, String peerHost) throws Exception {
        InetSocketAddress address = (InetSocketAddress) listener.localAddress();
        // Kept here: a failed handshake may close the channel, and empty its pipeline, at once.
        java.util.concurrent.atomic.AtomicReference<SslHandler> handler = new java.util.concurrent.atomic.AtomicReference<>();
        Channel channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        handler.set(context.newHandler(ch.alloc(), peerHost, address.getPort()));
                        ch.pipeline().addLast(handler.get());
                    }
                })
                .connect(address).sync().channel();
        SslHandler ssl = handler.get();
        ssl.handshakeFuture().get(5, TimeUnit.SECONDS);
        channel.writeAndFlush(Unpooled.copiedBuffer("ping", StandardCharsets.UTF_8));
        return ssl;
    }
}
