package dev.trellis.testing.cluster;

import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.Pem;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The simulated API server as pods see it: HTTPS on the bridge address with a certificate for
 * that address, from a CA of its own that pods find in their service-account volume's
 * {@code ca.crt} — so fabric8's in-cluster configuration works unchanged. Behind it, the mock
 * API server speaks plain HTTP on loopback; bytes are piped both ways (watches included).
 */
final class ApiServerFront implements AutoCloseable {

    private final SSLServerSocket server;
    private final String caPem;
    private final InetSocketAddress backend;
    private volatile boolean closed;

    private ApiServerFront(SSLServerSocket server, String caPem, InetSocketAddress backend) {
        this.server = server;
        this.caPem = caPem;
        this.backend = backend;
    }

    /** Listens on {@code address} (any port) and forwards to {@code backend}. */
    static ApiServerFront start(InetAddress address, InetSocketAddress backend) throws Exception {
        KeyPair caKeys = EcKeys.generateP256();
        X500Name caName = new X500Name("CN=simulated-cluster-ca");
        Instant now = Instant.now();
        X509Certificate ca = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(caName, BigInteger.valueOf(now.toEpochMilli()),
                Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(Duration.ofDays(2))), caName, caKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .build(new JcaContentSignerBuilder(EcKeys.SIGNATURE_ALGORITHM).build(caKeys.getPrivate())));
        KeyPair serverKeys = EcKeys.generateP256();
        X509Certificate serverCertificate = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(caName,
                BigInteger.valueOf(now.toEpochMilli() + 1), Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(Duration.ofDays(2))),
                new X500Name("CN=kubernetes"), serverKeys.getPublic())
                .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                        new GeneralName(GeneralName.iPAddress, address.getHostAddress()),
                        new GeneralName(GeneralName.dNSName, "kubernetes.default.svc")}))
                .build(new JcaContentSignerBuilder(EcKeys.SIGNATURE_ALGORITHM).build(caKeys.getPrivate())));
        KeyStore keyStore = KeyStore.getInstance("PKCS12");
        keyStore.load(null, null);
        keyStore.setKeyEntry("server", serverKeys.getPrivate(), new char[0], new X509Certificate[] {serverCertificate, ca});
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(keyStore, new char[0]);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(keys.getKeyManagers(), null, null);
        SSLServerSocket server = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
        server.bind(new InetSocketAddress(address, 0), 128);
        ApiServerFront front = new ApiServerFront(server, Pem.encodeCertificates(java.util.List.of(ca)), backend);
        Thread.ofVirtual().name("api-server-front").start(front::accept);
        return front;
    }

    /** The CA pods trust for the API server, PEM. */
    String caPem() {
        return caPem;
    }

    int port() {
        return server.getLocalPort();
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket();
                upstream.connect(backend, 5000);
                Thread.ofVirtual().start(() -> pipe(client, upstream));
                Thread.ofVirtual().start(() -> pipe(upstream, client));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("simulated cluster: API server front: " + e.getMessage());
                }
            }
        }
    }

    private static void pipe(Socket from, Socket to) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            in.transferTo(out);
        } catch (IOException e) {
            // one side closed; close both below
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
    }
}
