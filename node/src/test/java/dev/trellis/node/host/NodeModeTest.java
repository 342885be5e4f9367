package dev.trellis.node.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.api.policy.v1.EgressPolicy;
import dev.trellis.api.policy.v1.EgressRule;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.metadata.MetadataKeys;
import dev.trellis.core.net.HostPort;
import dev.trellis.core.settings.ProxyMode;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.identity.delegation.NodeDelegation;
import dev.trellis.init.InitConfig;
import dev.trellis.init.ProxyInit;
import dev.trellis.node.agent.NamespaceDirectory;
import dev.trellis.node.agent.NodeAgent;
import dev.trellis.node.agent.PodFeed;
import dev.trellis.node.handoff.HandoffMessage.PodRef;
import dev.trellis.proxy.ProxyConfig;
import dev.trellis.testing.FakeDestination;
import dev.trellis.testing.NetworkNamespace;
import dev.trellis.testing.TestPki;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Node mode end to end on this machine (root): two pods as network namespaces on a bridge,
 * each with proxy-init's rules, an unmodified client in one calling an echo app in the other;
 * one node agent making their sockets inside them and one node proxy serving both, each pod
 * with its own identity, certificate (granted to the node proxy only for pods on its node)
 * and connection log, the pods' own addresses on the wire.
 */
class NodeModeTest {

    private static final WorkloadIdentity WEB = TestPki.identity("emojivoto", "web");
    private static final WorkloadIdentity EMOJI = TestPki.identity("emojivoto", "emoji");
    private static final WorkloadIdentity NODE_PROXY = TestPki.identity("trellis", ProxyMode.NODE_PROXY_SERVICE_ACCOUNT);
    private static final int APP_PORT = 7000;
    private static final int CLIENT_UID = 65534;

    @TempDir
    Path dir;

    @Test
    void oneNodeProxyServesTwoPodsEachAsItselfFromInsideItsNamespace() throws Exception {
        if (!NetworkNamespace.available()) {
            Assumptions.assumeFalse("true".equals(System.getenv("CI")), "CI must run this test: it needs root, ip and iptables (see .ci/run)");
            Assumptions.abort("needs root, ip and iptables");
        }
        int n = ThreadLocalRandom.current().nextInt(200, 250);
        String tag = Long.toString(ProcessHandle.current().pid() % 10000);
        String bridge = "tnb" + tag;
        String webIp = "10." + n + ".7.2";
        String emojiIp = "10." + n + ".7.3";
        String strayIp = "10." + n + ".7.4";
        TestPki pki = TestPki.create(dir);

        List<Pod> pods = new CopyOnWriteArrayList<>(List.of(
                pod("trellis", "node-proxy-a", ProxyMode.NODE_PROXY_SERVICE_ACCOUNT, "node-a", Map.of()),
                pod("emojivoto", "web-0", "web", "node-a", Map.of(MetadataKeys.PROXY_MODE, "node")),
                pod("emojivoto", "emoji-0", "emoji", "node-a", Map.of(MetadataKeys.PROXY_MODE, "node")),
                pod("emojivoto", "voting-0", "voting", "node-b", Map.of(MetadataKeys.PROXY_MODE, "node"))));
        ByteArrayOutputStream audit = new ByteArrayOutputStream();
        IdentityServer identity = IdentityServer.start(IdentityServerConfig.builder(TestPki.TRUST_DOMAIN, pki.trustAnchorFile(), pki.issuerCertificateFile(),
                        pki.issuerKeyFile()).listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(pki.tokenKey().getPublic(), Clock.systemUTC()), Optional.of(new NodeDelegation("trellis", podsOf(pods))),
                AuditLog.sharing(audit), Clock.systemUTC());
        FakeDestination destination = new FakeDestination(pki, TestPki.identity("trellis", "trellis-destination"), "127.0.0.1");
        destination.set(emojiIp + ":" + APP_PORT, List.of(FakeDestination.endpoint(emojiIp, APP_PORT, EMOJI, 0)));
        // Egress, as for sidecars: the pods may not reach the stray pod's database port outside the mesh.
        destination.setEgress(EgressPolicy.newBuilder().setMode(EgressPolicy.Mode.DENY)
                .addDeny(EgressRule.newBuilder().setCidr(strayIp + "/32").addPorts(5432)).build());

        Path token = dir.resolve("node-proxy.token");
        Files.writeString(token, LocalTokens.mint(pki.tokenKey().getPrivate(), NODE_PROXY, Optional.of("node-proxy-a"), Duration.ofHours(1), Instant.now()));
        Path socket = dir.resolve("agent/handoff.sock");
        StaticFeed feed = new StaticFeed();
        PodRef web = new PodRef("uid-web", "emojivoto", "web-0", "web", webIp);
        PodRef emoji = new PodRef("uid-emoji", "emojivoto", "emoji-0", "emoji", emojiIp);
        // The test runs as root, so the node proxy (in this JVM) is uid 0 here; in a cluster it is 2102 and the agent root.
        NodeAgent.Settings agentSettings = new NodeAgent.Settings(socket, 0, ProxyMode.SOCKET_MARK, HostPort.parse(ProxyConfig.Defaults.INBOUND),
                HostPort.parse(ProxyConfig.Defaults.OUTBOUND), HostPort.parse(ProxyConfig.Defaults.TAP), Duration.ofSeconds(3), 64, Duration.ofMillis(500));
        ProxyConfig template = ProxyConfig.builder(NODE_PROXY)
                .trustAnchorFile(pki.trustAnchorFile()).tokenFile(token)
                .identityService(new HostPort("127.0.0.1", identity.grpcAddress().getPort()))
                .destinationService(new HostPort("127.0.0.1", destination.port()))
                .outbound(Optional.of(HostPort.parse(ProxyConfig.Defaults.OUTBOUND))).tap(Optional.of(HostPort.parse(ProxyConfig.Defaults.TAP)))
                .declaredPorts(java.util.Set.of(APP_PORT)).requireIdentityPorts(java.util.Set.of(APP_PORT))
                .connectionLogFile(Optional.of(dir.resolve("connections.log")))
                .shutdownGrace(Duration.ofSeconds(1))
                .build();

        try (NetworkNamespace webNs = NetworkNamespace.create("tnw" + tag);
             NetworkNamespace emojiNs = NetworkNamespace.create("tne" + tag);
             NetworkNamespace strayNs = NetworkNamespace.create("tns" + tag)) {
            exec("ip", "link", "add", bridge, "type", "bridge");
            try {
                exec("ip", "addr", "add", "10." + n + ".7.1/24", "dev", bridge);
                exec("ip", "link", "set", bridge, "up");
                plug(webNs, bridge, "tw" + tag, webIp, n);
                plug(emojiNs, bridge, "te" + tag, emojiIp, n);
                plug(strayNs, bridge, "ts" + tag, strayIp, n);
                // proxy-init's IPv4 rules, as its dry run prints them.
                String rules = ProxyInit.dryRun(InitConfig.builder().build()).split("# IPv6")[0].replaceAll("(?m)^#.*\n", "");
                for (NetworkNamespace ns : List.of(webNs, emojiNs, strayNs)) {
                    ns.run("sh", "-c", "iptables-restore --noflush <<'EOF'\n" + rules + "EOF\n");
                }
                emojiNs.start(java(List.of("dev.trellis.testing.EchoServerMain", "0.0.0.0", String.valueOf(APP_PORT))), dir.resolve("app.log"));

                feed.set(List.of(web, emoji));
                int home = NodeAgent.ownNamespace();
                try (NodeAgent agent = NodeAgent.start(agentSettings, feed, new NamespaceDirectory(Path.of("/run/netns"), home));
                     NodeProxy proxy = NodeProxy.start(new NodeProxy.Settings(template, socket, new HostPort("127.0.0.1", 0), 2),
                             Clock.systemUTC())) {
                    Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(proxy.served()).containsExactlyInAnyOrder(web, emoji));
                    Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                        assertThat(proxy.proxyOf("emojivoto", "web-0").orElseThrow().notReadyReason()).isEmpty();
                        assertThat(proxy.proxyOf("emojivoto", "emoji-0").orElseThrow().notReadyReason()).isEmpty();
                    });
                    // Each pod's proxy holds its own pod's identity; the node proxy holds none of its own.
                    assertThat(proxy.proxyOf("emojivoto", "web-0").orElseThrow().credentials().current().orElseThrow().identity()).isEqualTo(WEB);
                    assertThat(proxy.proxyOf("emojivoto", "emoji-0").orElseThrow().credentials().current().orElseThrow().identity()).isEqualTo(EMOJI);

                    String message = "hello through the node proxy";
                    String answer = call(webNs, emojiIp, message, Duration.ofSeconds(30));
                    assertThat(answer).as("echo through the node proxy; audit:\n%s", audit).isEqualTo(message);
                    // The client pod's proxy checked the server pod's identity; the server pod's proxy counts the client pod's.
                    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("connections.log")))
                            .contains("\"source_identity\":\"" + WEB.spiffeId() + "\"")
                            .contains("\"server_identity\":\"" + EMOJI.spiffeId() + "\",\"bytes_sent\":" + (message.length() + 1)));
                    assertThat(proxy.proxyOf("emojivoto", "emoji-0").orElseThrow().metricsText()).contains(WEB.spiffeId());

                    // The server pod's inbound side sees true source addresses: a plaintext call from the host is refused
                    // (the port requires an identity) and logged with the host's own address.
                    try (java.net.Socket plain = new java.net.Socket(emojiIp, APP_PORT)) {
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
                    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("connections.log")))
                            .contains("\"event\":\"inbound_refusal\"").contains("\"source\":\"/10." + n + ".7.1:"));

                    // Egress from a node-mode pod: denied by policy, logged with the pod's own identity.
                    strayNs.start(java(List.of("dev.trellis.testing.EchoServerMain", "0.0.0.0", "5432", "banner")), dir.resolve("db.log"));
                    String egress = webNs.runFor(Duration.ofSeconds(10), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups",
                            "bash", "-c", "exec 3<>/dev/tcp/" + strayIp + "/5432 && timeout 3 head -c 5 <&3; echo end");
                    assertThat(egress.strip()).isEqualTo("end");
                    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(Files.readString(dir.resolve("connections.log")))
                            .contains("\"destination\":\"/" + strayIp + ":5432\"").contains("\"decision\":\"egress_denied\""));

                    // A pod the node proxy does not serve has no plaintext way out: refused at once, not hung.
                    long started = System.nanoTime();
                    String stray = strayNs.runFor(Duration.ofSeconds(10), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups",
                            "bash", "-c", "exec 3<>/dev/tcp/" + emojiIp + "/" + APP_PORT + " && echo connected || echo refused");
                    assertThat(stray.strip()).endsWith("refused");
                    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));

                    // A pod removed from the node: its listeners close, so its traffic is refused too.
                    feed.set(List.of(emoji));
                    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(proxy.served()).containsExactly(emoji));
                    Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(webNs.runFor(Duration.ofSeconds(5), "setpriv",
                            "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups", "bash", "-c",
                            "exec 3<>/dev/tcp/" + emojiIp + "/" + APP_PORT + " && echo connected || echo refused").strip()).endsWith("refused"));
                    feed.set(List.of(web, emoji));
                    assertThat(call(webNs, emojiIp, message, Duration.ofSeconds(30))).isEqualTo(message);
                }
                // The node proxy is gone: the pods' listeners went with it, and their connections fail fast.
                long stopped = System.nanoTime();
                String after = webNs.runFor(Duration.ofSeconds(10), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups",
                        "bash", "-c", "exec 3<>/dev/tcp/" + emojiIp + "/" + APP_PORT + " && echo connected || echo refused");
                assertThat(after.strip()).endsWith("refused");
                assertThat(Duration.ofNanos(System.nanoTime() - stopped)).isLessThan(Duration.ofSeconds(5));
                // The node proxy asked only for the identities of its own node's pods, and got them.
                assertThat(audit.toString()).contains(WEB.spiffeId()).contains(EMOJI.spiffeId()).doesNotContain("node_delegation_denied");
            } finally {
                new ProcessBuilder("ip", "link", "del", bridge).start().waitFor();
            }
        } finally {
            destination.close();
            identity.close();
        }
    }

    /** An unmodified client in {@code ns}, as nobody, sends a line to the app and reads the echo; retried until {@code limit}. */
    private static String call(NetworkNamespace ns, String ip, String message, Duration limit) throws Exception {
        String answer = "";
        long deadline = System.nanoTime() + limit.toNanos();
        while (!answer.strip().equals(message) && System.nanoTime() < deadline) {
            answer = ns.runFor(Duration.ofSeconds(5), "setpriv", "--reuid=" + CLIENT_UID, "--regid=" + CLIENT_UID, "--clear-groups",
                    "bash", "-c", "exec 3<>/dev/tcp/" + ip + "/" + APP_PORT + " && printf '" + message + "\\n' >&3 && timeout 4 head -n 1 <&3");
            if (!answer.strip().equals(message)) {
                Thread.sleep(300);
            }
        }
        return answer.strip();
    }

    private static void plug(NetworkNamespace ns, String bridge, String hostSide, String ip, int n) throws Exception {
        exec("ip", "link", "add", hostSide, "type", "veth", "peer", "name", hostSide + "p");
        exec("ip", "link", "set", hostSide + "p", "netns", ns.name());
        ns.run("ip", "link", "set", hostSide + "p", "name", "eth0");
        ns.run("ip", "addr", "add", ip + "/24", "dev", "eth0");
        ns.run("ip", "link", "set", "eth0", "up");
        ns.run("ip", "route", "add", "default", "via", "10." + n + ".7.1");
        exec("ip", "link", "set", hostSide, "master", bridge);
        exec("ip", "link", "set", hostSide, "up");
    }

    private static void exec(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes());
        if (process.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + ": " + out);
        }
    }

    private static List<String> java(List<String> mainAndArgs) {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-XX:+UseSerialGC", "-Xmx64m",
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"))));
        command.addAll(mainAndArgs);
        return command;
    }

    private static Pod pod(String namespace, String name, String serviceAccount, String node, Map<String, String> annotations) {
        return new PodBuilder().withNewMetadata().withNamespace(namespace).withName(name).withAnnotations(annotations).endMetadata()
                .withNewSpec().withServiceAccountName(serviceAccount).withNodeName(node)
                    // what the injector gives a node-mode pod
                    .addNewInitContainer().withName("trellis-init").endInitContainer().endSpec()
                .withNewStatus().withPhase("Running").endStatus().build();
    }

    private static NodeDelegation.Pods podsOf(List<Pod> pods) {
        return new NodeDelegation.Pods() {
            @Override
            public Optional<Pod> pod(String namespace, String name) {
                return pods.stream().filter(p -> p.getMetadata().getNamespace().equals(namespace) && p.getMetadata().getName().equals(name)).findFirst();
            }

            @Override
            public List<Pod> onNode(String namespace, String node) {
                return pods.stream().filter(p -> p.getMetadata().getNamespace().equals(namespace) && node.equals(p.getSpec().getNodeName())).toList();
            }
        };
    }

    /** The pods to serve, set by the test. */
    private static final class StaticFeed implements PodFeed {
        private volatile Map<String, PodRef> pods = Map.of();
        private final List<Consumer<Map<String, PodRef>>> listeners = new CopyOnWriteArrayList<>();

        void set(List<PodRef> next) {
            Map<String, PodRef> map = new LinkedHashMap<>();
            next.forEach(p -> map.put(p.uid(), p));
            pods = map;
            listeners.forEach(l -> l.accept(map));
        }

        @Override
        public Map<String, PodRef> current() {
            return pods;
        }

        @Override
        public AutoCloseable subscribe(Consumer<Map<String, PodRef>> changed) {
            listeners.add(changed);
            return () -> listeners.remove(changed);
        }

        @Override
        public void close() {
        }
    }
}
