package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.cluster.manifest.ManifestParser;
import dev.trellis.injector.NamespaceMetadata;
import dev.trellis.injector.PodInjector;
import dev.trellis.testing.TestPki;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every flag of {@code trellis install}, walked through its edges: for each value, install
 * either refuses it — naming the flag — or renders a control plane whose every component
 * accepts its own command line by its own rules (identity, destination, viz and the injector
 * build their settings from it, as they do when they start), and whose injector makes pods
 * whose proxy accepts its settings too. A rendered control plane never refuses its own
 * settings (an outside review saw {@code --identity-leaf-lifetime 1s} rendered and then
 * crash-loop the identity service). A flag added to install without values here fails the test.
 */
class InstallFlagsTest {

    /** Values for each flag: accepted ones at the edges, and refused ones the review tried or that look plausible. */
    private static final Map<String, List<String>> VALUES = new LinkedHashMap<>();

    static {
        VALUES.put("--namespace", List.of("trellis", "mesh-2", "a".repeat(63), "Trellis", "a.b", "a".repeat(64), "-x"));
        VALUES.put("--trust-domain", List.of("cluster.local", "example.org", "mesh", "Example.org", "a b", "spiffe://x"));
        VALUES.put("--cluster-domain", List.of("cluster.local", "corp", "k8s.corp.example", "corp local", "Cluster.local", "a..b", "cluster.local.",
                "-a.local", "x".repeat(64) + ".local", ""));
        VALUES.put("--identity-leaf-lifetime", List.of("0s", "1s", "2s", "90m", "24h", "365d", "366d", "3650d", "1ms"));
        VALUES.put("--registry", List.of("ghcr.io/trellis-dev", "registry.local:5000/mesh", "localhost:5000", "ghcr.io", "https://ghcr.io/trellis-dev",
                "http://registry.local/x", "ghcr.io/Trellis", "ghcr.io//x", "ghcr.io/x/", "reg istry.io", ""));
        VALUES.put("--version", List.of("0.2.0", "v1.2.3-rc.1", "sha-0a1b2c", "1.0-", "-x", ".x", "a".repeat(64), "1.0+build"));
        VALUES.put("--image-pull-policy", List.of("Always", "IfNotPresent", "Never", "never", "IfNeeded"));
        VALUES.put("--controller-uid", List.of("1", "2103", "65534", "0", "65535", "-1"));
        VALUES.put("--default-inbound-policy", List.of("all-unauthenticated", "all-authenticated", "cluster-authenticated", "deny", "audit", "allow", ""));
        VALUES.put("--native-sidecar", List.of("auto", "true", "false", "yes"));
        VALUES.put("--injector", List.of("true", "false", "maybe"));
        VALUES.put("--ha", List.of());
        VALUES.put("--strict-visibility", List.of());
        VALUES.put("--prometheus", List.of("true", "false", "maybe"));
        VALUES.put("--node-mode", List.of());
        VALUES.put("--prometheus-image", List.of("prom/prometheus:v2.53.4", "registry.local:5000/prometheus:v3.0.0", "prom/prometheus latest", ""));
    }

    /** Flags that are not settings of the control plane, and where each is tested instead. */
    private static final Map<String, String> ELSEWHERE = Map.of(
            "--crds", "prints the CRDs only (ControlPlaneTest, InstallAndCheckTest)",
            "--identity-dir", "where the PKI files are (this test's PKI)",
            "--identity-trust-anchors-file", "IdentityFiles (ControlPlaneTest)",
            "--identity-issuer-certificate-file", "IdentityFiles (ControlPlaneTest)",
            "--identity-issuer-key-file", "IdentityFiles (ControlPlaneTest)",
            "--identity-external-issuer", "ControlPlaneTest.anExternalIssuerWritesNoIssuerSecret…",
            "--injector-ca-file", "WebhookFilesTest",
            "--injector-cert-file", "WebhookFilesTest",
            "--injector-key-file", "WebhookFilesTest",
            "--help", "picocli's own");

    @TempDir
    Path dir;

    private TestPki pki;

    @BeforeEach
    void pki() throws Exception {
        // trust-anchor.pem, issuer.pem and issuer-key.pem: what `identity bootstrap` writes and --identity-dir reads.
        pki = TestPki.create(dir.resolve("pki"));
    }

    @Test
    void everyFlagOfInstallIsWalkedHere() {
        CommandLine install = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter())).getSubcommands().get("install");
        Set<String> flags = new TreeSet<>();
        for (CommandLine.Model.OptionSpec option : install.getCommandSpec().options()) {
            flags.add(option.longestName());
        }
        Set<String> covered = new TreeSet<>(VALUES.keySet());
        covered.addAll(ELSEWHERE.keySet());
        assertThat(covered).as("a new install flag needs values in InstallFlagsTest").containsExactlyInAnyOrderElementsOf(flags);
    }

    @Test
    void whatInstallAcceptsEveryComponentRunsWith() throws Exception {
        List<String> refused = new ArrayList<>();
        List<String> accepted = new ArrayList<>();
        for (Map.Entry<String, List<String>> flag : VALUES.entrySet()) {
            List<List<String>> variants = new ArrayList<>();
            if (flag.getValue().isEmpty()) {
                variants.add(List.of(flag.getKey()));
            } else {
                flag.getValue().forEach(value -> variants.add(List.of(flag.getKey() + "=" + value)));
            }
            for (List<String> variant : variants) {
                List<String> args = new ArrayList<>(List.of("install", "--identity-dir", dir.resolve("pki").toString()));
                args.addAll(variant);
                StringWriter out = new StringWriter();
                StringWriter err = new StringWriter();
                int exit = Main.commandLine(new PrintWriter(out), new PrintWriter(err)).execute(args.toArray(String[]::new));
                if (exit != 0) {
                    assertThat(err.toString()).as("install %s refused without naming the flag", variant).contains(flag.getKey());
                    refused.add(variant.getFirst());
                    continue;
                }
                accepted.add(variant.getFirst());
                componentsAccept(variant.getFirst(), new ManifestParser().parse("install " + variant, out.toString()));
            }
        }
        // What the outside review tried is refused; the defaults' neighbours are accepted.
        assertThat(refused).contains("--identity-leaf-lifetime=0s", "--identity-leaf-lifetime=1s", "--identity-leaf-lifetime=3650d",
                "--cluster-domain=corp local", "--registry=https://ghcr.io/trellis-dev", "--version=1.0-", "--default-inbound-policy=allow");
        assertThat(accepted).contains("--identity-leaf-lifetime=2s", "--identity-leaf-lifetime=365d", "--cluster-domain=corp",
                "--registry=registry.local:5000/mesh", "--default-inbound-policy=audit", "--native-sidecar=false", "--ha");
    }

    /** Each control-plane container's command line, parsed and turned into its component's settings; and a pod the injector would make. */
    private void componentsAccept(String variant, List<HasMetadata> objects) throws Exception {
        String anchors = objects.stream().filter(ConfigMap.class::isInstance).map(ConfigMap.class::cast)
                .filter(c -> c.getData() != null && c.getData().containsKey("ca-bundle.crt")).map(c -> c.getData().get("ca-bundle.crt"))
                .findFirst().orElseThrow();
        for (HasMetadata object : objects) {
            io.fabric8.kubernetes.api.model.PodSpec pod;
            if (object instanceof Deployment deployment) {
                pod = deployment.getSpec().getTemplate().getSpec();
            } else if (object instanceof io.fabric8.kubernetes.api.model.apps.DaemonSet daemonSet) {
                pod = daemonSet.getSpec().getTemplate().getSpec();
            } else {
                continue;
            }
            for (Container container : pod.getContainers()) {
                if (container.getName().equals("prometheus")) {
                    continue;  // upstream, not a Trellis command line (InstalledManifestsTest checks its image and arguments)
                }
                CommandLine cli = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
                CommandLine.ParseResult parsed = cli.parseArgs(container.getArgs().toArray(String[]::new));
                Object command = parsed.subcommand().subcommand() != null ? parsed.subcommand().subcommand().commandSpec().userObject()
                        : parsed.subcommand().commandSpec().userObject();
                String what = variant + ": " + container.getName();
                try {
                    switch (command) {
                        case IdentityServeCommand identity -> identity.config();
                        case DestinationCommand destination -> destination.config();
                        case VizServeCommand viz -> viz.self();
                        case InjectorCommand injector -> injectedProxyAccepts(what, injector, anchors);
                        // Their flags parsed (picocli converted and checked each); their files exist only in the pod.
                        case NodeCommand.Agent agent -> assertThat(agent.node).as(what).isEqualTo("$(NODE_NAME)");
                        case NodeCommand.Proxy node -> assertThat(node.agentSocket).as(what).isNotNull();
                        default -> throw new AssertionError(what + ": no check for " + command.getClass().getSimpleName());
                    }
                } catch (RuntimeException e) {
                    throw new AssertionError(what + " refuses what install rendered: " + e.getMessage(), e);
                }
            }
        }
    }

    /** The injector's settings, and the proxy of a pod it injects, built from its environment as the kubelet would expand it. */
    private static void injectedProxyAccepts(String what, InjectorCommand injector, String anchors) throws Exception {
        injector.nativeSidecarMode();
        PodInjector mutation = new PodInjector(injector.injection.config(anchors, true).build());
        var pod = new PodBuilder().withNewMetadata().withName("web-0").withNamespace("shop").addToLabels("trellis.dev/inject", "enabled").endMetadata()
                .withNewSpec().withServiceAccountName("web").addNewContainer().withName("web").withImage("web:1").addNewPort().withContainerPort(8080)
                .endPort().endContainer().endSpec().build();
        var decision = mutation.inject(pod, NamespaceMetadata.bare("shop"), false);
        assertThat(decision).as(what).isInstanceOf(PodInjector.Decision.Injected.class);
        var injected = ((PodInjector.Decision.Injected) decision).pod().getSpec();
        Container proxy = injected.getInitContainers().stream().filter(c -> c.getName().equals(PodInjector.PROXY_CONTAINER)).findFirst().orElseThrow();
        // The kubelet's work: the downward API's values, then $(VAR) references.
        Map<String, String> env = new HashMap<>(Map.of("TRELLIS_POD_NAMESPACE", "shop", "TRELLIS_POD_NAME", "web-0", "TRELLIS_POD_SERVICE_ACCOUNT", "web"));
        for (EnvVar variable : proxy.getEnv()) {
            if (variable.getValue() != null) {
                Matcher reference = Pattern.compile("\\$\\(([A-Z_]+)\\)").matcher(variable.getValue());
                env.put(variable.getName(), reference.replaceAll(m -> Matcher.quoteReplacement(env.getOrDefault(m.group(1), m.group()))));
            }
        }
        List<String> args = new ArrayList<>(proxy.getArgs());
        Map<String, String> options = optionsByVariable(ProxyCommand.class);
        env.forEach((name, value) -> {
            if (options.containsKey(name)) {
                args.add(options.get(name) + "=" + value);
            }
        });
        CommandLine.ParseResult parsed = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()))
                .parseArgs(args.toArray(String[]::new));
        ((ProxyCommand) parsed.subcommand().commandSpec().userObject()).config();
    }

    /** {@code TRELLIS_PROXY_*} variable to the option that defaults from it ({@code ${env:NAME}}). */
    private static Map<String, String> optionsByVariable(Class<?> command) {
        Map<String, String> options = new HashMap<>();
        for (Field field : command.getDeclaredFields()) {
            CommandLine.Option option = field.getAnnotation(CommandLine.Option.class);
            if (option != null) {
                Matcher variable = Pattern.compile("\\$\\{env:([A-Z_]+)").matcher(option.defaultValue());
                if (variable.find()) {
                    options.put(variable.group(1), option.names()[0]);
                }
            }
        }
        return options;
    }
}
