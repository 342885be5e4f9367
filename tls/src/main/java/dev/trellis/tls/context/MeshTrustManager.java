package dev.trellis.tls.context;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.MeshCertificates;
import dev.trellis.tls.pki.TrustAnchors;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslCertificateException;
import io.netty.internal.tcnative.CertificateVerifier;
import java.security.cert.CertPathValidatorException;
import java.security.cert.PKIXReason;
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
            throw refusal(Alert.BAD_CERTIFICATE, new IdentityMismatchException(expectedName(expected), server));
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

    /**
     * The peer's mesh identity, or a refusal that says why and carries the TLS alert the peer
     * should see: {@code unknown_ca} for a chain to no anchor of ours, {@code
     * certificate_expired} for one outside its validity, {@code bad_certificate} for one that
     * verifies but names no single mesh identity (an outside review saw {@code internal_error}
     * for all of them, which tells a peer nothing).
     */
    private WorkloadIdentity verify(X509Certificate[] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw refusal(Alert.BAD_CERTIFICATE, new CertificateException("tls: peer sent no certificate"));
        }
        try {
            anchors.verify(Arrays.asList(chain), clock.instant());
        } catch (CertificateException e) {
            throw refusal(alertFor(e), e);
        }
        try {
            return MeshCertificates.identityOf(chain[0]);
        } catch (CertificateException e) {
            throw refusal(Alert.BAD_CERTIFICATE, e);
        }
    }

    /** The alerts a refusal can ask for, with the OpenSSL verify result and the JDK's reason that produce each. */
    enum Alert {
        UNKNOWN_CA(PKIXReason.NO_TRUST_ANCHOR),
        CERTIFICATE_EXPIRED(CertPathValidatorException.BasicReason.EXPIRED),
        BAD_CERTIFICATE(CertPathValidatorException.BasicReason.INVALID_SIGNATURE);

        private final CertPathValidatorException.Reason jdkReason;

        Alert(CertPathValidatorException.Reason jdkReason) {
            this.jdkReason = jdkReason;
        }

        /** Read only when OpenSSL is loaded: tcnative initializes these constants from the native library. */
        int openSslError() {
            return switch (this) {
                case UNKNOWN_CA -> CertificateVerifier.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
                case CERTIFICATE_EXPIRED -> CertificateVerifier.X509_V_ERR_CERT_HAS_EXPIRED;
                case BAD_CERTIFICATE -> CertificateVerifier.X509_V_ERR_CERT_REJECTED;
            };
        }
    }

    private static Alert alertFor(CertificateException failure) {
        if (failure.getCause() instanceof CertPathValidatorException invalid) {
            if (invalid.getReason() == PKIXReason.NO_TRUST_ANCHOR) {
                return Alert.UNKNOWN_CA;
            }
            if (invalid.getReason() == CertPathValidatorException.BasicReason.EXPIRED
                    || invalid.getReason() == CertPathValidatorException.BasicReason.NOT_YET_VALID) {
                return Alert.CERTIFICATE_EXPIRED;
            }
        }
        return Alert.BAD_CERTIFICATE;
    }

    /**
     * {@code cause} as the exception each provider turns into {@code alert}: BoringSSL reads
     * the error code of an {@link OpenSslCertificateException}, the JDK the reason of a
     * {@link CertPathValidatorException} cause. The message and {@code cause} stay reachable
     * for logs ({@link IdentityMismatchException#in}).
     */
    private static CertificateException refusal(Alert alert, CertificateException cause) {
        if (OpenSsl.isAvailable()) {
            return new OpenSslCertificateException(cause.getMessage(), cause, alert.openSslError());
        }
        CertPathValidatorException reason = new CertPathValidatorException(cause.getMessage(), cause, null, -1, alert.jdkReason);
        return new CertificateException(cause.getMessage(), reason);
    }

    /** The expected identity as operators read it: the SPIFFE ID when the peer host is a mesh DNS-like name. */
    private static String expectedName(String peerHost) {
        try {
            return WorkloadIdentity.parseDnsName(peerHost).toString();
        } catch (IllegalArgumentException e) {
            return peerHost;
        }
    }
}
