package dev.trellis.tls.context;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.MeshCertificates;
import dev.trellis.tls.pki.TrustAnchors;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Builds the TLS contexts of the mesh. Every context is TLS 1.3 only and reads the
 * {@link CredentialsStore} at every handshake, so one context lives as long as its listener
 * or client while certificates rotate underneath.
 *
 * <p>Clients open connections with the expected server identity's DNS-like name as the
 * peer host ({@code context.newHandler(alloc, identity.dnsName(), port)}, or gRPC's
 * {@code overrideAuthority}); the handshake fails unless the server presents that identity.
 */
public final class MeshSslContexts {

    private static final String TLS_13 = "TLSv1.3";
    /**
     * TLS 1.3's three suites in a deliberate order: AES-128-GCM first (fast with the AES
     * instructions every server CPU has, and 128-bit security is the target of the P-256 and
     * X25519 keys anyway), AES-256-GCM, then ChaCha20-Poly1305 for CPUs without AES
     * instructions. BoringSSL keeps its own TLS 1.3 order (the same two AES suites first when
     * the CPU has AES instructions, ChaCha20 first when not); the JDK provider uses this one.
     */
    static final List<String> TLS_13_SUITES = List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256");
    /** gRPC runs on HTTP/2 only. */
    private static final List<String> GRPC_ALPN = List.of("h2");

    private MeshSslContexts() {}

    /** BoringSSL through netty-tcnative when it loads here, else the JDK's provider. */
    public static SslProvider provider() {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    /** A human-readable name of the provider in use, for start-up logs. */
    public static String providerDescription() {
        return OpenSsl.isAvailable() ? "OpenSSL (" + OpenSsl.versionString() + ")" : "JDK";
    }

    /**
     * A mesh server context: presents the store's current credentials and, when
     * {@code clientAuth} is {@link ClientAuth#REQUIRE}, requires a client certificate that
     * chains to the anchors. {@code alpn} lists the protocols offered, most preferred first
     * (empty for none).
     */
    public static SslContext forServer(CredentialsStore store, ClientAuth clientAuth, List<String> alpn, Clock clock) throws SSLException {
        return forServer(store, clientAuth, alpn, clock, KeyExchange.HYBRID);
    }

    /** As {@link #forServer(CredentialsStore, ClientAuth, List, Clock)}, with the key-exchange groups given. */
    public static SslContext forServer(CredentialsStore store, ClientAuth clientAuth, List<String> alpn, Clock clock, KeyExchange keyExchange)
            throws SSLException {
        requireNonNull(store, "store");
        SslContextBuilder builder = SslContextBuilder.forServer(new CurrentCredentialsKeyManager(store))
                .trustManager(new MeshTrustManager(store.trustAnchors(), clock))
                .clientAuth(clientAuth);
        return common(builder, alpn, keyExchange).build();
    }

    /**
     * A mesh client context: verifies the server against the anchors and the expected
     * identity, and presents the store's current credentials when {@code store} is given.
     */
    public static SslContext forClient(TrustAnchors anchors, Optional<CredentialsStore> store, List<String> alpn, Clock clock) throws SSLException {
        return forClient(anchors, store, alpn, clock, KeyExchange.HYBRID);
    }

    /** As {@link #forClient(TrustAnchors, Optional, List, Clock)}, with the key-exchange groups given. */
    public static SslContext forClient(TrustAnchors anchors, Optional<CredentialsStore> store, List<String> alpn, Clock clock, KeyExchange keyExchange)
            throws SSLException {
        SslContextBuilder builder = SslContextBuilder.forClient()
                .trustManager(new MeshTrustManager(requireNonNull(anchors, "anchors"), clock))
                .endpointIdentificationAlgorithm(null);
        store.ifPresent(s -> builder.keyManager(new CurrentCredentialsKeyManager(s)));
        return withoutResumption(common(builder, alpn, keyExchange).build());
    }

    /** A gRPC server context: {@link #forServer} with ALPN {@code h2} only, as gRPC requires. */
    public static SslContext forGrpcServer(CredentialsStore store, ClientAuth clientAuth, Clock clock) throws SSLException {
        return forServer(store, clientAuth, GRPC_ALPN, clock);
    }

    /** A gRPC client context: {@link #forClient} with ALPN {@code h2} only. */
    public static SslContext forGrpcClient(TrustAnchors anchors, Optional<CredentialsStore> store, Clock clock) throws SSLException {
        return forClient(anchors, store, GRPC_ALPN, clock);
    }

    /** The mesh identity of the peer of an established session, if it presented a certificate. */
    public static Optional<WorkloadIdentity> peerIdentity(SSLSession session) {
        try {
            Certificate[] chain = session.getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
                return Optional.empty();
            }
            return Optional.of(MeshCertificates.identityOf(leaf));
        } catch (SSLPeerUnverifiedException | CertificateException e) {
            return Optional.empty();
        }
    }

    /**
     * Turns off the client's session cache, so every connection is a full handshake: the
     * server's current certificate is checked against the current anchors and the expected
     * identity each time, never skipped by resuming an older session. Mesh connections are
     * long-lived (one multiplexed HTTP/2 connection per endpoint), so the cost is small.
     * With the JDK provider, which cannot turn its cache off, sessions expire after a second.
     */
    private static SslContext withoutResumption(SslContext context) {
        if (context.sessionContext() instanceof OpenSslSessionContext openSsl) {
            openSsl.setSessionCacheEnabled(false);
        } else {
            context.sessionContext().setSessionTimeout(1);
        }
        return context;
    }

    /** The key-exchange groups to offer, with BoringSSL; the JDK provider keeps its defaults. */
    private static SslContextBuilder groups(SslContextBuilder builder, KeyExchange keyExchange) {
        if (provider() == SslProvider.OPENSSL) {
            builder.option(OpenSslContextOption.GROUPS, keyExchange.groups().toArray(String[]::new));
        }
        return builder;
    }

    /**
     * The key-exchange group a finished handshake settled on ({@code X25519MLKEM768},
     * {@code X25519}, ...), read from the engine itself; empty with the JDK provider.
     */
    public static Optional<String> negotiatedGroup(javax.net.ssl.SSLEngine engine) {
        if (!(engine instanceof io.netty.handler.ssl.ReferenceCountedOpenSslEngine openSsl)) {
            return Optional.empty();
        }
        try {
            return Optional.ofNullable(io.netty.internal.tcnative.SSL.getGroupName(openSsl.sslPointer()));
        } catch (Exception e) {
            return Optional.empty();
        }
    }

    private static SslContextBuilder common(SslContextBuilder builder, List<String> alpn, KeyExchange keyExchange) {
        builder.sslProvider(provider()).protocols(TLS_13).ciphers(TLS_13_SUITES);
        groups(builder, keyExchange);
        if (!alpn.isEmpty()) {
            builder.applicationProtocolConfig(new ApplicationProtocolConfig(
                    ApplicationProtocolConfig.Protocol.ALPN,
                    ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                    ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                    alpn));
        }
        return builder;
    }
}
