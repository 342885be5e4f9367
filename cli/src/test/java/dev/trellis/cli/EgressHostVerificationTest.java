package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.EgressRule;
import dev.trellis.core.identity.ControlPlaneComponent;
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
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Egress host rules against made-up names (outside review: a TLS connection to a denied
 * address with SNI {@code x.allowed.test} passed an allow rule for {@code *.allowed.test},
 * and plain HTTP was decided with no host at all). An unmodified client in a pod made of a
 * network namespace connects, through its proxy in transparent mode, to two addresses of
 * another namespace; only one of them is what {@code api.allowed.test} resolves to, through
 * the client pod's own {@code /etc/hosts} and the system resolver.
 *
 * <p>Addresses: client 10.N.3.1, servers 10.N.3.2 (api.allowed.test) and 10.N.3.3 (not it);
 * the control plane in the root namespace on 10.N.1.1.
 */
class EgressHostVerificationTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final int PROXY_UID = 0;
    private static final int CLIENT_UID = 65534;

    @TempDir
    Path dir;

    @Test
    void aHostRuleAllowsOnlyTheAddressesTheNameResolvesToForTlsAndForHttp() throws Exception {
        if (!NetworkNamespace.available()) {
            Assumptions.assumeFalse("true".equals(System.getenv("CI")), "CI must run this test: it needs root, ip and iptables (see .ci/run)");
            Assumptions.abort("needs root, ip and iptables");
        }
        int n = ThreadLocalRandom.current().nextInt(150, 200);
        String tag = Long.toString(ProcessHandle.current().pid() % 10000);
        String real = "10." + n + ".3.2";
        String other = "10." + n + ".3.3";
        TestPki pki = TestPki.create(dir);
        IdentityServer identity = IdentityServer.start(IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(),
                                pki.issuerKeyFile()).listen(new HostPort("0.0.0.0", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), AuditLog.sharing(OutputStream.nullOutputStream()), Clock.systemUTC());
        FakeDestination destination = new FakeDestination(pki, ControlPlaneComponent.DESTINATION.identity(TestPki.TRUST_DOMAIN), "0.0.0.0");
        destination.setEgress(EgressPolicy.newBuilder().setMode(EgressPolicy.Mode.ALLOW).putLabels("name", "allowed-only")
                .addAllow(EgressRule.newBuilder().setHost("*.allowed.test")).build());
        try (NetworkNamespace client = NetworkNamespace.create("trellis-ec" + tag);
             NetworkNamespace servers = NetworkNamespace.create("trellis-es" + tag)) {
            NetworkNamespace.link(client, "ec" + tag + "p", "10." + n + ".3.1/24", servers, "es" + tag + "p", real + "/24");
            servers.run("ip", "addr", "add", other + "/24", "dev", "es" + tag + "p");
            NetworkNamespace.link(client, "ec" + tag + "c", "10." + n + ".1.2/24", null, "er" + tag + "c", "10." + n + ".1.1/24");
            client.hosts(List.of(real + " api.allowed.test"));
            client.run("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", String.valueOf(PROXY_UID), "-j", "RETURN");
            client.run("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-o", "lo", "-j", "RETURN");
            client.run("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "4140");
            servers.start(TrellisProcesses.java(List.of("dev.trellis.testing.EchoServerMain", "0.0.0.0", "8443")), dir.resolve("tls-echo.log"));
            servers.start(TrellisProcesses.java(List.of("dev.trellis.testing.EchoServerMain", "0.0.0.0", "8080")), dir.resolve("http-echo.log"));
            String controlPlane = "10." + n + ".1.1";
            List<String> proxy = new ArrayList<>(TrellisProcesses.proxy(dir, pki, WEB, controlPlane + ":" + identity.grpcAddress().getPort(),
                    controlPlane + ":" + destination.port(), List.of("--workload", "web-0")));
            client.start(proxy, dir.resolve("client-proxy.log"));

            // The real address of the allowed name: through (the echo server answers the hello).
            Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500)).untilAsserted(() ->
                    assertThat(hello(client, real, "api.allowed.test")).as(log("client-proxy.log")).startsWith("answered"));
            // The allowed name, claimed for another address, and a made-up allowed name: refused.
            assertThat(hello(client, other, "api.allowed.test")).isEqualTo("closed");
            assertThat(hello(client, other, "x.allowed.test")).isEqualTo("closed");
            // Plain HTTP: the Host header is read and checked the same way.
            assertThat(http(client, real, "api.allowed.test")).startsWith("GET / HTTP/1.1");
            assertThat(http(client, other, "api.allowed.test")).startsWith("HTTP/1.1 403").contains("trellis-proxy-error: egress denied");

            Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                List<String> lines = Files.readAllLines(dir.resolve("web-connections.log"));
                assertThat(lines).anySatisfy(l -> assertThat(l).contains("\"destination\":\"/" + real + ":8443\"").contains("\"host\":\"api.allowed.test\"")
                        .contains("\"protocol\":\"tls\"").contains("\"decision\":\"allowed\""));
                assertThat(lines).anySatisfy(l -> assertThat(l).contains("\"destination\":\"/" + other + ":8443\"").contains("\"host\":\"api.allowed.test\"")
                        .contains("\"decision\":\"egress_denied\"").contains("is not one of its addresses [" + real + "]"));
                assertThat(lines).anySatisfy(l -> assertThat(l).contains("\"host\":\"x.allowed.test\"").contains("\"decision\":\"egress_denied\"")
                        .contains("x.allowed.test matches an allow rule but does not resolve"));
                assertThat(lines).anySatisfy(l -> assertThat(l).contains("\"destination\":\"/" + real + ":8080\"").contains("\"protocol\":\"http1\"")
                        .contains("\"host\":\"api.allowed.test\"").contains("\"decision\":\"allowed\""));
                assertThat(lines).anySatisfy(l -> assertThat(l).contains("\"destination\":\"/" + other + ":8080\"").contains("\"protocol\":\"http1\"")
                        .contains("\"host\":\"api.allowed.test\"").contains("\"decision\":\"egress_denied\""));
            });
        } finally {
            destination.close();
            identity.close();
            Path copied = Path.of("/tmp", "trellis-egress-test-" + ProcessHandle.current().pid());
            if (Files.exists(copied)) {
                try (var walk = Files.walk(copied)) {
                    for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.delete(p);
                    }
                }
            }
        }
    }

    /**
     * A TLS ClientHello for {@code name} to {@code address}:8443 from an unprivileged app in the
     * client pod. The app's class needs only the JDK; it is copied where that user may read it.
     */
    private String hello(NetworkNamespace client, String address, String name) throws Exception {
        Path classes = Files.createDirectories(Path.of("/tmp", "trellis-egress-test-" + ProcessHandle.current().pid(), "dev", "trellis", "testing"));
        try (var in = ClassLoader.getSystemResourceAsStream("dev/trellis/testing/ClientHelloMain.class")) {
            Files.copy(in, classes.resolve("ClientHelloMain.class"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        for (Path p = classes; !p.equals(Path.of("/tmp")); p = p.getParent()) {
            Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        return client.runFor(Duration.ofSeconds(20), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups",
                java, "-cp", classes.getParent().getParent().getParent().toString(), "dev.trellis.testing.ClientHelloMain", address, "8443", name).strip();
    }

    /** One HTTP/1.1 request with {@code Host: name} to {@code address}:8080 from an unprivileged app; the first line of what came back. */
    private String http(NetworkNamespace client, String address, String name) throws Exception {
        return client.runFor(Duration.ofSeconds(10), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups", "bash", "-c",
                "exec 3<>/dev/tcp/" + address + "/8080 && printf 'GET / HTTP/1.1\\r\\nHost: " + name + "\\r\\n\\r\\n' >&3 && timeout 2 cat <&3").strip();
    }

    private String log(String name) {
        try {
            return Files.readString(dir.resolve(name));
        } catch (java.io.IOException e) {
            return "(no " + name + ")";
        }
    }
}
