package dev.trellis.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.destination.DestinationServer;
import dev.trellis.testing.TestPki;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A TCPRoute on a Service splits its opaque connections by weight, one pick per connection,
 * through real proxies and the real destination service.
 */
class TcpRouteMeshTest {

    private static final WorkloadIdentity CLIENT = TestPki.identity("shop", "client");
    private static final String DB = "db.shop.svc.cluster.local:5432";

    @TempDir
    Path dir;

    /** A TCP server that writes its name to every connection and closes it. */
    private static ServerSocket namer(String name) throws IOException {
        ServerSocket server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    Thread.ofVirtual().start(() -> {
                        try (socket) {
                            socket.getOutputStream().write((name + "\n").getBytes(StandardCharsets.US_ASCII));
                        } catch (IOException ignored) {
                            // the client left
                        }
                    });
                } catch (IOException closed) {
                    return;
                }
            }
        });
        return server;
    }

    @Test
    void connectionsSplitByTheRoutesWeights() throws Exception {
        Path state = Files.createDirectories(dir.resolve("state"));
        try (MeshFixture mesh = new MeshFixture(dir); LocalDirectorySource cluster = LocalDirectorySource.start(state, Duration.ofMillis(50));
             DestinationServer destination = mesh.startDestination(cluster);
             ServerSocket v1 = namer("v1"); ServerSocket v2 = namer("v2")) {
            int port = destination.grpcAddress().getPort();
            StringBuilder yaml = new StringBuilder("""
                    apiVersion: v1
                    kind: Service
                    metadata: {namespace: shop, name: db}
                    spec: {ports: [{name: pg, port: 5432}]}
                    ---
                    apiVersion: gateway.networking.k8s.io/v1alpha2
                    kind: TCPRoute
                    metadata: {namespace: shop, name: db-split}
                    spec:
                      parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
                      rules: [{backendRefs: [{name: db-v1, port: 5432, weight: 70}, {name: db-v2, port: 5432, weight: 30}]}]
                    """);
            for (Map.Entry<String, ServerSocket> app : Map.of("db-v1", v1, "db-v2", v2).entrySet()) {
                String name = app.getKey();
                int appPort = app.getValue().getLocalPort();
                Proxy server = mesh.start(MeshFixture.withDestination(mesh.config(TestPki.identity("shop", name), List.of()), port, name + "-0"));
                yaml.append(LocalWorkloads.yaml("shop", name, name, "pg", 5432, appPort, server.inboundAddress().getPort()));
            }
            Files.writeString(state.resolve("db.yaml"), yaml.toString());
            Proxy client = mesh.start(MeshFixture.withDestination(mesh.config(CLIENT, List.of(new Forward(new HostPort("127.0.0.1", 0), DB))), port,
                    "client-0"));
            InetSocketAddress forward = client.forwardAddress(0);
            // The first connection already follows the route: the proxy waits for the Service's profile before it carries any.
            Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> read(forward).startsWith("v"));
            Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
            try (var clients = Executors.newFixedThreadPool(4)) {
                for (int i = 0; i < 1000; i++) {
                    clients.submit(() -> counts.computeIfAbsent(read(forward), k -> new AtomicInteger()).incrementAndGet());
                }
            }
            assertThat(counts).as("connections by the backend that answered").containsOnlyKeys("v1", "v2");
            double v2Share = counts.get("v2").get() / 1000.0;
            // 6 points is over 4 standard deviations of a 30 % share of 1,000.
            assertThat(v2Share).isCloseTo(0.30, org.assertj.core.data.Offset.offset(0.06));
        }
    }

    private static String read(InetSocketAddress forward) {
        try (Socket socket = new Socket()) {
            socket.connect(forward, 2000);
            socket.setSoTimeout(10_000);
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            return e.getClass().getSimpleName();
        }
    }
}
