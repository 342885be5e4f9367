package dev.trellis.tls.context;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.TrustAnchors;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Arrays;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Verifies peers against the mesh trust anchors. On the client side it also checks that the
 * server is the identity the caller expected: the "peer host" a connection is opened with
 * must be the expected identity's DNS-like name, and the server's leaf must carry that
 * identity. A client connection opened without a peer host is refused rather than trusted
 * for any identity.
 */
final class MeshTrustManager extends X509ExtendedTrustManager {

    private final TrustAnchors anchors;
    private final Clock clock;

    MeshTrustManager(TrustAnchors anchors, Clock clock) {
        this.anchors = anchors;
        this.clock = clock;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        verify(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        WorkloadIdentity server = verify(chain);
        String expected = engine == null ? null : engine.getPeerHost();
        if (expected == null || expected.isEmpty()) {
            throw new CertificateException("tls: no expected server identity for this connection; refusing " + server);
        }
        if (!server.dnsName().equals(expected) && !server.spiffeId().equals(expected)) {
            throw new CertificateException("tls: server presented " + server + ", expected " + expected);
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        verify(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        throw new CertificateException("tls: mesh clients run on SSLEngine; socket-based handshakes are not supported");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        verify(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checkServerTrusted(chain, authType, (SSLEngine) null);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return anchors.certificates().toArray(X509Certificate[]::new);
    }

    private WorkloadIdentity verify(X509Certificate[] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("tls: peer sent no certificate");
        }
        return anchors.verifyLeaf(Arrays.asList(chain), clock.instant());
    }
}
