package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.net.HostPort;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.tls.pki.MeshCertificates;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.TrustAnchors;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliTest {

    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {}

    private Run trellis(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void debugTurnsLeakDetectionBackOnOnlyWhereTheLauncherTurnedItOff() {
        assertThat(ProxyCommand.leakDetection(false, io.netty.util.ResourceLeakDetector.Level.DISABLED))
                .isEqualTo(io.netty.util.ResourceLeakDetector.Level.DISABLED);
        assertThat(ProxyCommand.leakDetection(true, io.netty.util.ResourceLeakDetector.Level.DISABLED))
                .isEqualTo(io.netty.util.ResourceLeakDetector.Level.SIMPLE);
        assertThat(ProxyCommand.leakDetection(true, io.netty.util.ResourceLeakDetector.Level.PARANOID))
                .as("a level the JVM was started with stays").isEqualTo(io.netty.util.ResourceLeakDetector.Level.PARANOID);
    }

    @Test
    void theProxyAloneReadsAndAnswersAsTheWholeTreeDoes() {
        // `trellis proxy` is parsed without the other commands' models (start-up); its usage,
        // its errors and its exit codes must stay those of the whole tree.
        StringWriter ignored = new StringWriter();
        String whole = Main.commandLine(new PrintWriter(ignored), new PrintWriter(ignored)).getSubcommands().get("proxy").getUsageMessage();
        assertThat(Main.sidecarCommandLine(new ProxyCommand(), "proxy", new PrintWriter(ignored), new PrintWriter(ignored)).getUsageMessage())
                .isEqualTo(whole);
        String wholeAwait = Main.commandLine(new PrintWriter(ignored), new PrintWriter(ignored)).getSubcommands().get("await").getUsageMessage();
        assertThat(trellis("await", "--help").out()).isEqualTo(wholeAwait);
        assertThat(trellis("proxy", "--help").out()).isEqualTo(whole);
        Run unknown = trellis("proxy", "--no-such-flag");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).contains("trellis: ").contains("'--no-such-flag'").contains("see 'trellis proxy --help'");
        Run badIdentity = trellis("proxy", "--identity", "not a spiffe id");
        assertThat(badIdentity.exit()).isEqualTo(1);
        assertThat(badIdentity.err()).startsWith("trellis: ");
    }

    @Test
    void checkRefusesAKubeconfigItCannotUseNamingTheFileAndAContextTheKubeconfigLacks() throws Exception {
        Path garbled = dir.resolve("garbled.yaml");
        Files.writeString(garbled, "apiVersion: v1\nkind: Config\nclusters: {this is: [not, a list\n");
        Run broken = trellis("check", "--kubeconfig", garbled.toString());
        assertThat(broken.exit()).isEqualTo(1);
        assertThat(broken.err()).startsWith("trellis: check: " + garbled + " is not a kubeconfig: ");
        Run missing = trellis("check", "--kubeconfig", dir.resolve("nope.yaml").toString());
        assertThat(missing.err()).isEqualTo("trellis: check: cannot read kubeconfig " + dir.resolve("nope.yaml") + ": no such file\n");

        Path kubeconfig = dir.resolve("kubeconfig.yaml");
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters: [{name: dev, cluster: {server: "https://127.0.0.1:1"}}]
                users: [{name: me, user: {token: abc}}]
                contexts: [{name: dev, context: {cluster: dev, user: me}}, {name: staging, context: {cluster: dev, user: me}}]
                current-context: dev
                """);
        // kubectl refuses a context the kubeconfig lacks; so does check, rather than checking the current cluster instead.
        Run other = trellis("check", "--kubeconfig", kubeconfig.toString(), "--context", "prod");
        assertThat(other.exit()).isEqualTo(1);
        assertThat(other.err()).isEqualTo("trellis: check: context \"prod\" does not exist in [" + kubeconfig + "] (its contexts: dev, staging)\n");
        assertThat(other.out()).isEmpty();
    }

    @Test
    void injectRefusesAManifestNestedTooDeepNamingTheFileAndLine() throws Exception {
        // 2,000 levels, in YAML's block form, its flow form, and JSON: each overflowed the stack before.
        StringBuilder block = new StringBuilder("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n");
        for (int i = 0; i < 2000; i++) {
            block.append("  ".repeat(i + 1)).append("a:\n");
        }
        block.append("  ".repeat(2001)).append("b\n");
        String flow = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + "[".repeat(2000) + "]".repeat(2000) + "\n";
        String json = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"deep\"}, \"data\": "
                + "{\"a\": ".repeat(2000) + "1" + "}".repeat(2000) + "}\n";
        for (Map.Entry<String, String> deep : Map.of("block.yaml", block.toString(), "flow.yaml", flow, "deep.json", json).entrySet()) {
            Path file = dir.resolve(deep.getKey());
            Files.writeString(file, deep.getValue());
            Run run = trellis("inject", file.toString());
            assertThat(run.exit()).as(deep.getKey()).isEqualTo(1);
            assertThat(run.err()).as(deep.getKey()).matches("trellis: " + java.util.regex.Pattern.quote(file.toString())
                    + ":\\d+:\\d+: nested more than 128 levels deep\n");
            assertThat(run.out()).isEmpty();
        }
    }

    @Test
    void bootstrapWritesTheFourFilesAndRefusesToOverwriteWithoutForce() throws Exception {
        Path pki = dir.resolve("pki");
        Run first = trellis("identity", "bootstrap", "--trust-domain", "example.org", "--out", pki.toString());
        assertThat(first.exit()).isZero();
        assertThat(pki.resolve("trust-anchor.pem")).exists();
        assertThat(pki.resolve("issuer.pem")).exists();
        assertThat(Pem.readPublicKey(pki.resolve("token-key.pub.pem"))).isEqualTo(Pem.readPublicKey(pki.resolve("token-key.pem")));
        for (String key : List.of("issuer-key.pem", "token-key.pem")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pki.resolve(key)))).isEqualTo("rw-------");
        }
        TrustAnchors anchors = TrustAnchors.read(pki.resolve("trust-anchor.pem"));
        anchors.verify(Pem.readCertificates(pki.resolve("issuer.pem")), Instant.now());

        byte[] anchorBefore = Files.readAllBytes(pki.resolve("trust-anchor.pem"));
        Run second = trellis("identity", "bootstrap", "--out", pki.toString());
        assertThat(second.exit()).isEqualTo(1);
        assertThat(second.err()).isEqualTo("trellis: identity bootstrap: " + pki.resolve("trust-anchor.pem") + " exists; refusing to overwrite it (use --force)\n");
        assertThat(Files.readAllBytes(pki.resolve("trust-anchor.pem"))).isEqualTo(anchorBefore);

        assertThat(trellis("identity", "bootstrap", "--out", pki.toString(), "--force").exit()).isZero();
        assertThat(Files.readAllBytes(pki.resolve("trust-anchor.pem"))).isNotEqualTo(anchorBefore);
    }

    @Test
    void tokenAndCertifyGetACertificateFromARunningService() throws Exception {
        Path pki = dir.resolve("pki");
        assertThat(trellis("identity", "bootstrap", "--out", pki.toString()).exit()).isZero();
        IdentityServerConfig config = IdentityServerConfig.builder("cluster.local", pki.resolve("trust-anchor.pem"), pki.resolve("issuer.pem"), pki.resolve("issuer-key.pem"))
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0))
                .build();
        try (IdentityServer server = IdentityServer.start(config,
                new LocalTokenAuthenticator(Pem.readPublicKey(pki.resolve("token-key.pub.pem")), Clock.systemUTC()),
                AuditLog.sharing(OutputStream.nullOutputStream()), Clock.systemUTC())) {
            Run token = trellis("identity", "token", "--token-key", pki.resolve("token-key.pem").toString(),
                    "--namespace", "emojivoto", "--service-account", "web", "--ttl", "10m");
            assertThat(token.exit()).isZero();
            Path tokenFile = dir.resolve("web.token");
            Files.writeString(tokenFile, token.out());

            String serverAddress = "127.0.0.1:" + server.grpcAddress().getPort();
            Path out = dir.resolve("cert");
            Run certify = trellis("identity", "certify", "--server", serverAddress, "--trust-anchor", pki.resolve("trust-anchor.pem").toString(),
                    "--identity", "spiffe://cluster.local/ns/emojivoto/sa/web", "--token-file", tokenFile.toString(), "--out", out.toString());
            assertThat(certify.exit()).as(certify.err()).isZero();
            List<X509Certificate> chain = Pem.readCertificates(out.resolve("chain.pem"));
            assertThat(MeshCertificates.identityOf(chain.getFirst()).spiffeId()).isEqualTo("spiffe://cluster.local/ns/emojivoto/sa/web");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("key.pem")))).isEqualTo("rw-------");

            Run refused = trellis("identity", "certify", "--server", serverAddress, "--trust-anchor", pki.resolve("trust-anchor.pem").toString(),
                    "--identity", "spiffe://cluster.local/ns/emojivoto/sa/db", "--token-file", tokenFile.toString(), "--out", dir.resolve("db").toString());
            assertThat(refused.exit()).isEqualTo(1);
            assertThat(refused.err()).contains("PERMISSION_DENIED").contains("token for ns/emojivoto/sa/web cannot request ns/emojivoto/sa/db");
            assertThat(dir.resolve("db")).doesNotExist();

            // Another mesh's trust anchor: the handshake's own reason, not gRPC's "io exception" and its channel pipeline.
            Path otherPki = dir.resolve("other-pki");
            assertThat(trellis("identity", "bootstrap", "--out", otherPki.toString()).exit()).isZero();
            Run wrongAnchor = trellis("identity", "certify", "--server", serverAddress, "--trust-anchor", otherPki.resolve("trust-anchor.pem").toString(),
                    "--identity", "spiffe://cluster.local/ns/emojivoto/sa/web", "--token-file", tokenFile.toString(), "--out", dir.resolve("web2").toString());
            assertThat(wrongAnchor.exit()).isEqualTo(1);
            assertThat(wrongAnchor.err()).contains("the TLS handshake with " + serverAddress + " failed")
                    .contains("spiffe://cluster.local/ns/trellis/sa/trellis-identity does not verify against the trust anchors")
                    .doesNotContain("Channel Pipeline").doesNotContain("io exception");

            Run version = trellis("version", "--admin", "127.0.0.1:" + server.adminAddress().getPort());
            assertThat(version.out()).contains("Client version: 0.2.0").contains("Server version: 0.2.0 (identity at");
        }
    }

    @Test
    void badFlagsGetOneClearLine() {
        Run badDuration = trellis("identity", "token", "--token-key", "k", "--namespace", "a", "--service-account", "b", "--ttl", "forever");
        assertThat(badDuration.exit()).isEqualTo(2);
        assertThat(badDuration.err()).contains("'forever' is not a duration");

        Run missingKey = trellis("identity", "token", "--token-key", dir.resolve("missing.pem").toString(), "--namespace", "a", "--service-account", "b");
        assertThat(missingKey.exit()).isEqualTo(1);
        assertThat(missingKey.err()).startsWith("trellis: no such file: ").contains("missing.pem");

        Run badName = trellis("identity", "token", "--token-key", "k", "--namespace", "Not_Valid", "--service-account", "b");
        assertThat(badName.exit()).isEqualTo(1);
        assertThat(badName.err()).contains("namespace 'Not_Valid' is not a DNS-1123 label");

        // An unknown flag is the mistake to name, even when required options are missing too.
        Run bogus = trellis("identity", "serve", "--bogus");
        assertThat(bogus.exit()).isEqualTo(2);
        assertThat(bogus.err()).startsWith("trellis: unknown option: '--bogus'").doesNotContain("Missing required");
    }

    @Test
    void badFilesGetOneClearLine() throws Exception {
        Path garbled = dir.resolve("viz-api");
        Files.writeString(garbled, "garbage{{\n");
        Run viz = trellis("viz", "stat", "--api-file", garbled.toString());
        assertThat(viz.exit()).isEqualTo(1);
        assertThat(viz.err()).contains(garbled + ":1 is not key=value").doesNotContain("URI with undefined scheme");
        Files.writeString(garbled, "url=nowhere\ntoken=x\n");
        assertThat(trellis("viz", "stat", "--api-file", garbled.toString()).err()).contains("has no url=http://HOST:PORT line (url is 'nowhere')");

        Path file = Files.writeString(dir.resolve("a-file"), "x");
        Run demo = trellis("demo", "--dir", file.toString());
        assertThat(demo.exit()).isEqualTo(1);
        assertThat(demo.err()).contains("--dir " + file + " is a file; give a directory");
    }

    @Test
    void outputReachesWritersThatDoNotFlushThemselves() {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        Main.run(new String[] {"viz", "stat", "--api-file", "/nonexistent/viz-api"},
                new PrintWriter(new java.io.OutputStreamWriter(out)), new PrintWriter(new java.io.OutputStreamWriter(err)));
        assertThat(err.toString()).contains("no metrics API file at /nonexistent/viz-api").contains("trellis demo");
    }
}
