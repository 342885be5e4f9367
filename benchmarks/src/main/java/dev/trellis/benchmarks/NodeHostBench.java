package dev.trellis.benchmarks;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.Forward;
import dev.trellis.proxy.Proxy;
import dev.trellis.proxy.ProxyConfig;
import dev.trellis.proxy.ProxyHost;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The node proxy's side of {@code bench/node-mode-footprint.sh}: one process hosting {@code N}
 * pods' proxies on one {@link ProxyHost} (two event-loop threads, one discovery thread), each
 * proxy exactly as the node proxy starts it (its own identity's certificate, listeners,
 * discovery, metrics; no admin listener of its own), with sockets of this machine's loopback
 * in place of the node agent's (the handoff costs a descriptor per listener and per
 * connection, not memory). Pod {@code i} forwards port {@code firstForward + i} to
 * {@code bench-h1.bench.svc.cluster.local:80}, as its sidecar twin in the script does.
 *
 * <p>Usage: {@code NodeHostBench <pods> <first-forward-port> <pki-dir> <identity-addr> <destination-addr> [<io-threads>]} (default 2).
 * Prints {@code ready} once every proxy holds a certificate, then runs until killed.
 */
public final class NodeHostBench {

    private NodeHostBench() {
    }

    public static void main(String[] args) throws Exception {
        int pods = Integer.parseInt(args[0]);
        int firstForward = Integer.parseInt(args[1]);
        Path pki = Path.of(args[2]);
        HostPort identity = HostPort.parse(args[3]);
        HostPort destination = HostPort.parse(args[4]);
        WorkloadIdentity web = new WorkloadIdentity("cluster.local", BenchControlPlane.NAMESPACE, "web");
        ProxyHost host = ProxyHost.start(args.length > 5 ? Integer.parseInt(args[5]) : 2);
        List<Proxy> proxies = new ArrayList<>();
        for (int i = 0; i < pods; i++) {
            ProxyConfig config = ProxyConfig.builder(web)
                    .trustAnchorFile(pki.resolve("trust-anchor.pem")).tokenFile(pki.resolve("web.token"))
                    .identityService(identity).destinationService(destination)
                    .inbound(new HostPort("127.0.0.1", 0)).outbound(Optional.empty()).tap(Optional.empty())
                    .forwards(List.of(Forward.parse((firstForward + i) + "=http://bench-h1.bench.svc.cluster.local:80")))
                    .connectionLogFile(Optional.of(Path.of("/dev/null")))
                    .workload(Optional.of("web-" + i))
                    .build();
            proxies.add(Proxy.hosted(config, Clock.systemUTC(), host, host.localSockets()));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        for (Proxy proxy : proxies) {
            while (proxy.notReadyReason().isPresent()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("node host bench: a proxy is not ready: " + proxy.notReadyReason().get());
                }
                Thread.sleep(50);
            }
        }
        System.out.println("ready");
        Thread.currentThread().join();
    }
}
