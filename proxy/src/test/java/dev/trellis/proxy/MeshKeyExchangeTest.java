package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.TestPki;
import dev.trellis.tls.context.KeyExchange;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two proxies settle on the hybrid post-quantum key exchange, read off their TLS engines (not
 * assumed from the configuration) and counted in tls_handshakes_total; a proxy told to be
 * classical brings the hop down to X25519.
 */
class MeshKeyExchangeTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final String AUTHORITY = "emoji-svc.emojivoto.svc.cluster.local:8080";

    @TempDir
    Path dir;

    @Test
    void twoProxiesNegotiateX25519Mlkem768AndAClassicalOneX25519() throws Exception {
        try (TcpServers app = TcpServers.echo(); MeshFixture mesh = new MeshFixture(dir)) {
            Proxy server = mesh.start(MeshFixture.declaring(mesh.config(EMOJI, List.of()), app.port()));
            mesh.destination.set(AUTHORITY, List.of(FakeDestination.endpoint("127.0.0.1", app.port(), EMOJI, server.inboundAddress().getPort())));
            Proxy hybrid = mesh.start(mesh.config(WEB, List.of(new Forward(new HostPort("127.0.0.1", 0), AUTHORITY))));
            echo(hybrid);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                assertThat(MeshFixture.metrics(hybrid)).contains("tls_handshakes_total{direction=\"outbound\",group=\"X25519MLKEM768\"} 1.0");
                assertThat(MeshFixture.metrics(server)).contains("tls_handshakes_total{direction=\"inbound\",group=\"X25519MLKEM768\"} 1.0");
            });

            Proxy classical = mesh.start(mesh.config(TestPki.identity("emojivoto", "vote-bot"),
                    List.of(new Forward(new HostPort("127.0.0.1", 0), AUTHORITY))).toBuilder().keyExchange(KeyExchange.CLASSICAL).build());
            echo(classical);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                assertThat(MeshFixture.metrics(classical)).contains("tls_handshakes_total{direction=\"outbound\",group=\"X25519\"} 1.0");
                assertThat(MeshFixture.metrics(server)).contains("tls_handshakes_total{direction=\"inbound\",group=\"X25519\"} 1.0");
            });
        }
    }

    private static void echo(Proxy client) throws Exception {
        try (Socket socket = new Socket(client.forwardAddress(0).getAddress(), client.forwardAddress(0).getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(socket.getInputStream().readNBytes(5)).isEqualTo("ping\n".getBytes(StandardCharsets.US_ASCII));
        }
    }
}
