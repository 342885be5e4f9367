package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.EgressRule;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.NetworkNamespace;
import dev.trellis.testing.TestPki;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transparent mode end to end, with pods simulated by network namespaces this test makes
 * (as root): an unmodified client in the client "pod" connects to the server pod's IP; the
 * client pod's iptables rules redirect it to its proxy's outbound listener, which reads the
 * original destination with SO_ORIGINAL_DST, resolves it, and carries it over mTLS to the
 * server pod, whose rules redirect it to its proxy's inbound listener, which hands it to
 * the app. Both proxies are real {@code trellis proxy} processes.
 *
 * <p>Addresses: client pod 10.N.3.1 and server pod 10.N.3.2 share a link (the pod network);
 * each pod also has a link to the root namespace (10.N.1.0/24, 10.N.2.0/24) where this test
 * runs the identity service and a fake destination service. N is drawn at random so that
 * concurrent runs do not collide. Only these addresses are ever contacted.
 */
class TransparentModeTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final int APP_PORT = 7000;
    /** In the default opaque-ports list: a server-speaks-first app. */
    private static final int BANNER_PORT = 5432;
    /** Not in that list: only discovery's hint says it is opaque (SMTP's port). */
    private static final int HINTED_BANNER_PORT = 2525;
    /** The proxies run as this test's user (root), and the client pod's rules let that uid's traffic pass. */
    private static final int PROXY_UID = 0;
    /** The unmodified client runs as nobody, so its traffic is redirected. */
    private static final int CLIENT_UID = 65534;

    @TempDir
    Path dir;

    @Test
    void anUnmodifiedClientReachesTheServerPodThroughBothProxies() throws Exception {
        if (!NetworkNamespace.available()) {
            Assumptions.assumeFalse("true".equals(System.getenv("CI")), "CI must run this test: it needs root, ip and iptables (see .ci/run)");
            Assumptions.abort("needs root, ip and iptables");
        }
        int n = ThreadLocalRandom.current().nextInt(200, 250);
        String tag = Long.toString(ProcessHandle.current().pid() % 10000);
        TestPki pki = TestPki.create(dir);
        IdentityServer identity = IdentityServer.start(IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(), pki.issuerKeyFile())
                        .listen(new HostPort("0.0.0.0", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), AuditLog.sharing(OutputStream.nullOutputStream()), Clock.systemUTC());
        FakeDestination destination = new FakeDestination(pki, TestPki.identity("trellis", "trellis-destination"), "0.0.0.0");
        String serverPod = "10." + n + ".3.2";
        destination.set(serverPod + ":" + APP_PORT, List.of(FakeDestination.endpoint(serverPod, APP_PORT, EMOJI, 0)));
        destination.set(serverPod + ":" + HINTED_BANNER_PORT, List.of(FakeDestination.opaqueEndpoint(serverPod, HINTED_BANNER_PORT, EMOJI, 0)));

        try (NetworkNamespace client = NetworkNamespace.create("trellis-c" + tag);
             NetworkNamespace server = NetworkNamespace.create("trellis-s" + tag)) {
            NetworkNamespace.link(client, "tc" + tag + "p", "10." + n + ".3.1/24", server, "ts" + tag + "p", serverPod + "/24");
            NetworkNamespace.link(client, "tc" + tag + "c", "10." + n + ".1.2/24", null, "tr" + tag + "c", "10." + n + ".1.1/24");
            NetworkNamespace.link(server, "ts" + tag + "c", "10." + n + ".2.2/24", null, "tr" + tag + "s", "10." + n + ".2.1/24");

            // What proxy-init will write: the client pod's outbound TCP goes to 4140, except the proxy's own.
            client.run("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", String.valueOf(PROXY_UID), "-j", "RETURN");
            client.run("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-o", "lo", "-j", "RETURN");
            client.run("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "4140");
            // The server pod's inbound TCP, from the pod network and from the root namespace, goes to 4143.
            server.run("iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-i", "ts" + tag + "p", "-j", "REDIRECT", "--to-ports", "4143");
            server.run("iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-i", "ts" + tag + "c", "-j", "REDIRECT", "--to-ports", "4143");

            server.start(TrellisProcesses.java(List.of("dev.trellis.testing.EchoServerMain", "0.0.0.0", String.valueOf(APP_PORT))), dir.resolve("app.log"));
            server.start(TrellisProcesses.java(List.of("dev.trellis.testing.EchoServerMain", "0.0.0.0", String.valueOf(BANNER_PORT), "banner")), dir.resolve("banner.log"));
            server.start(TrellisProcesses.java(List.of("dev.trellis.testing.EchoServerMain", "0.0.0.0", String.valueOf(HINTED_BANNER_PORT), "banner")),
                    dir.resolve("hinted-banner.log"));
            // Port 7000 requires a mesh identity: only traffic that came through the client's proxy reaches the app.
            List<String> serverProxy = new ArrayList<>(proxy(pki, EMOJI, "10." + n + ".2.1", identity, destination));
            serverProxy.addAll(List.of("--require-identity-ports", String.valueOf(APP_PORT), "--inbound-ports", APP_PORT + "," + BANNER_PORT + ","
                    + HINTED_BANNER_PORT, "--detect-timeout", "2s"));
            server.start(serverProxy, dir.resolve("server-proxy.log"));
            // The client pod may not reach the server pod's database port outside the mesh (egress policy).
            destination.setEgress(EgressPolicy.newBuilder().setMode(EgressPolicy.Mode.DENY)
                    .addDeny(EgressRule.newBuilder().setCidr(serverPod + "/32").addPorts(BANNER_PORT)).build());
            List<String> clientProxy = new ArrayList<>(proxy(pki, WEB, "10." + n + ".1.1", identity, destination));
            clientProxy.addAll(List.of("--workload", "web-0"));
            client.start(clientProxy, dir.resolve("client-proxy.log"));

            String message = "hello through the mesh";
            String answer = "";
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!answer.strip().equals(message) && System.nanoTime() < deadline) {
                answer = client.runFor(Duration.ofSeconds(5), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups",
                        "bash", "-c", "exec 3<>/dev/tcp/" + serverPod + "/" + APP_PORT + " && printf '" + message + "\\n' >&3 && head -n 1 <&3");
                if (!answer.strip().equals(message)) {
                    Thread.sleep(500);
                }
            }
            assertThat(answer.strip()).as("echo through the mesh; proxy logs:\n%s\n%s",
                    Files.readString(dir.resolve("client-proxy.log")), Files.readString(dir.resolve("server-proxy.log"))).isEqualTo(message);
            // The proxy writes the line when the connection has closed.
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("web-connections.log"))).contains("\"destination\":\"/" + serverPod + ":" + APP_PORT + "\"")
                    .contains("\"server_identity\":\"" + EMOJI.spiffeId() + "\"")
                    .contains("\"tls\":true")
                    .contains("\"decision\":\"allowed\""));

            // Egress: the client pod's connection to the server pod's port 5432 is not mesh traffic
            // (discovery does not know it), and the egress policy denies it: closed, and logged.
            String egress = client.runFor(Duration.ofSeconds(5), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups",
                    "bash", "-c", "exec 3<>/dev/tcp/" + serverPod + "/" + BANNER_PORT + " && timeout 3 head -c 5 <&3; echo end");
            assertThat(egress.strip()).isEqualTo("end");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("web-connections.log")))
                    .contains("\"destination\":\"/" + serverPod + ":" + BANNER_PORT + "\"")
                    .contains("\"decision\":\"egress_denied\""));

            // An unmeshed client (this test, from the root namespace) to the server pod's opaque port: its
            // connection is redirected to the inbound listener, which must not wait for it to speak first.
            long started = System.nanoTime();
            try (java.net.Socket plain = new java.net.Socket("10." + n + ".2.2", BANNER_PORT)) {
                plain.setSoTimeout(5000);
                byte[] banner = plain.getInputStream().readNBytes("220 trellis-test ready\r\n".length());
                assertThat(new String(banner, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("220 trellis-test ready\r\n");
            }
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));

            // A banner on a port only discovery marks opaque: through the mesh the first byte comes at once,
            // not after the client proxy's detection timeout (10 s) — Linkerd users' most common stall.
            long hinted = System.nanoTime();
            String banner = client.runFor(Duration.ofSeconds(8), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups",
                    "bash", "-c", "exec 3<>/dev/tcp/" + serverPod + "/" + HINTED_BANNER_PORT + " && head -n 1 <&3");
            assertThat(banner.strip()).isEqualTo("220 trellis-test ready");
            assertThat(Duration.ofNanos(System.nanoTime() - hinted)).as("first byte through the mesh").isLessThan(Duration.ofSeconds(2));

            // An unmeshed client that never speaks, on a port the server proxy has no opaque marking for: detection
            // gives up after its timeout (2 s here) and passes the connection on, so the banner arrives, late, never lost.
            long silent = System.nanoTime();
            try (java.net.Socket plain = new java.net.Socket("10." + n + ".2.2", HINTED_BANNER_PORT)) {
                plain.setSoTimeout(15_000);
                byte[] late = plain.getInputStream().readNBytes("220 trellis-test ready\r\n".length());
                assertThat(new String(late, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("220 trellis-test ready\r\n");
            }
            assertThat(Duration.ofNanos(System.nanoTime() - silent)).isBetween(Duration.ofMillis(1500), Duration.ofSeconds(10));

            // The app port requires identity: the same unmeshed client is refused there.
            try (java.net.Socket plain = new java.net.Socket("10." + n + ".2.2", APP_PORT)) {
                plain.setSoTimeout(5000);
                plain.getOutputStream().write("sneaking in\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                int read;
                try {
                    read = plain.getInputStream().read();
                } catch (java.net.SocketException reset) {
                    read = -1;
                }
                assertThat(read).as("no echo around the mesh").isEqualTo(-1);
            }
        } finally {
            destination.close();
            identity.close();
        }
    }

    private List<String> proxy(TestPki pki, WorkloadIdentity workload, String controlPlane, IdentityServer identity, FakeDestination destination)
            throws Exception {
        return TrellisProcesses.proxy(dir, pki, workload, controlPlane + ":" + identity.grpcAddress().getPort(),
                controlPlane + ":" + destination.port(), List.of());
    }
}
