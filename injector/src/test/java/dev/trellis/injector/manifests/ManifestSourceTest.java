package dev.trellis.injector.manifests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.ServingCertificates;
import java.io.ByteArrayInputStream;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where manifests come from: files, directories, stdin, and https only — verified, bounded. */
class ManifestSourceTest {

    @TempDir
    Path dir;

    private HttpsServer server;
    private CaCredentials ca;

    @BeforeEach
    void serve() throws Exception {
        ca = ServingCertificates.newCa("manifests.test", Duration.ofDays(1), Instant.now());
        ServingCertificates.Serving serving = ServingCertificates.issue(ca, List.of("localhost"), Duration.ofDays(1), Instant.now());
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("server", serving.key(), new char[0], new Certificate[] {serving.certificate(), ca.certificate()});
        KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keyManagers.init(keys, new char[0]);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keyManagers.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(context));
        server.createContext("/app.yaml", exchange -> {
            byte[] body = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.createContext("/huge.yaml", exchange -> {
            exchange.sendResponseHeaders(200, 0);
            byte[] chunk = new byte[64 * 1024];
            try {
                for (int i = 0; i < ManifestSource.MAX_BYTES / chunk.length + 2; i++) {
                    exchange.getResponseBody().write(chunk);
                }
            } catch (java.io.IOException clientGaveUp) {
                // the reader stops at the limit
            }
            exchange.close();
        });
        server.createContext("/moved.yaml", exchange -> {
            exchange.getResponseHeaders().add("Location", "http://127.0.0.1:" + server.getAddress().getPort() + "/app.yaml");
            exchange.sendResponseHeaders(302, -1);
            exchange.close();
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @Test
    void plainHttpAndOtherSchemesAreRefusedNamingTheFinding() {
        ManifestSource source = new ManifestSource();
        assertThatThrownBy(() -> source.read("http://example.test/app.yaml", System.in))
                .hasMessageContaining("https only").hasMessageContaining("finding 3");
        assertThatThrownBy(() -> source.read("ftp://example.test/app.yaml", System.in))
                .hasMessageContaining("only files, directories, - and https:// URLs");
        assertThatThrownBy(() -> source.read("HTTP://example.test/app.yaml", System.in)).hasMessageContaining("https only");
    }

    @Test
    void httpsIsReadWhenTheServerVerifiesAndNotOtherwise() throws Exception {
        String url = "https://localhost:" + server.getAddress().getPort();
        assertThat(trusting(ca).read(url + "/app.yaml", System.in)).singleElement()
                .satisfies(named -> assertThat(named.text()).contains("kind: Pod"));
        // The system's trust store does not know this server's CA.
        assertThatThrownBy(() -> new ManifestSource().read(url + "/app.yaml", System.in)).hasMessageContaining("cannot fetch")
                .hasMessageContaining("TLS handshake failed");
        assertThatThrownBy(() -> trusting(ca).read(url + "/huge.yaml", System.in)).hasMessageContaining("is over");
        assertThatThrownBy(() -> trusting(ca).read(url + "/moved.yaml", System.in)).hasMessageContaining("HTTP 302");
    }

    @Test
    void aPortNobodyListensOnIsNamedAsRefusedNotAsAnExceptionClass() throws Exception {
        int closed;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = socket.getLocalPort();
        }
        String url = "https://127.0.0.1:" + closed + "/app.yaml";
        assertThatThrownBy(() -> trusting(ca).read(url, System.in)).hasMessageStartingWith("inject: cannot fetch " + url + ": connection refused")
                .hasMessageNotContaining("ConnectException");
    }

    @Test
    void filesDirectoriesAndStdin() throws Exception {
        Files.writeString(dir.resolve("b.yaml"), "b");
        Files.writeString(dir.resolve("a.json"), "a");
        Files.writeString(dir.resolve("notes.txt"), "not a manifest");
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("sub/c.yml"), "c");
        ManifestSource source = new ManifestSource();
        assertThat(source.read(dir.toString(), System.in)).extracting(ManifestSource.Named::text).containsExactly("a", "b", "c");
        assertThat(source.read(dir.resolve("b.yaml").toString(), System.in)).extracting(ManifestSource.Named::name)
                .containsExactly(dir.resolve("b.yaml").toString());
        assertThat(source.read("-", new ByteArrayInputStream("from stdin".getBytes(StandardCharsets.UTF_8))))
                .extracting(ManifestSource.Named::name, ManifestSource.Named::text).containsExactly(org.assertj.core.groups.Tuple.tuple("<stdin>", "from stdin"));
        assertThatThrownBy(() -> source.read(dir.resolve("missing.yaml").toString(), System.in)).isInstanceOf(java.nio.file.NoSuchFileException.class);
        assertThatThrownBy(() -> source.read("-", new ByteArrayInputStream(new byte[ManifestSource.MAX_BYTES + 1])))
                .hasMessageContaining("<stdin> is over");
    }

    private static ManifestSource trusting(CaCredentials ca) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setCertificateEntry("ca", ca.certificate());
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return new ManifestSource(HttpClient.newBuilder().sslContext(context).connectTimeout(Duration.ofSeconds(5))
                .followRedirects(HttpClient.Redirect.NORMAL).build());
    }
}
