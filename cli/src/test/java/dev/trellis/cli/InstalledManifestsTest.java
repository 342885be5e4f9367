package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.install.ControlPlane;
import dev.trellis.install.IdentityFiles;
import dev.trellis.install.InstallOptions;
import dev.trellis.testing.TestPki;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What `trellis install` renders agrees with what ships: every image it names is one a
 * Dockerfile target builds, and every command line it gives a Trellis container is one the
 * real CLI accepts (parsed by the same picocli objects `trellis` runs with).
 */
class InstalledManifestsTest {

    private static final Path DOCKERFILE = Path.of("..", "images", "Dockerfile");

    @TempDir
    Path dir;

    @Test
    void everyTrellisContainerCommandLineIsAcceptedByTheCli() throws Exception {
        List<String> checked = new ArrayList<>();
        for (boolean ha : new boolean[] {false, true}) {
            for (Container container : containers(rendered(ha))) {
                CommandLine commandLine = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
                List<String> args = new ArrayList<>();
                if (container.getCommand() != null) {
                    args.addAll(container.getCommand());
                }
                args.addAll(container.getArgs());
                CommandLine.ParseResult parsed = commandLine.parseArgs(args.toArray(String[]::new));
                assertThat(parsed.unmatched()).as(container.getName()).isEmpty();
                assertThat(parsed.hasSubcommand()).as(container.getName() + " runs a subcommand").isTrue();
                checked.add(container.getName());
            }
        }
        assertThat(checked).contains("identity", "destination", "viz", "injector");
    }

    /**
     * The pods the installed injector makes, with the settings its own command line gives it:
     * proxy-init's arguments and the postStart hook parse, and every TRELLIS_* variable the
     * proxy gets is one `trellis proxy` reads.
     */
    @Test
    void thePodsTheInstalledInjectorMakesRunCommandsTheCliAccepts() throws Exception {
        Container injectorContainer = containers(rendered(false)).stream().filter(c -> c.getName().equals("injector")).findFirst().orElseThrow();
        CommandLine commandLine = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        CommandLine.ParseResult parsed = commandLine.parseArgs(injectorContainer.getArgs().toArray(String[]::new));
        InjectorCommand injector = (InjectorCommand) parsed.subcommand().commandSpec().userObject();
        String anchors = Files.readString(TestPki.create(dir.resolve("anchors")).trustAnchorFile());
        Set<String> proxyVariables = environmentVariablesOf(ProxyCommand.class);
        for (boolean nativeSidecar : new boolean[] {true, false}) {
            var pod = new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName("web").withNamespace("shop")
                    .addToAnnotations("trellis.dev/inject", "enabled").endMetadata()
                    .withNewSpec().addNewContainer().withName("web").withImage("web:1").endContainer().endSpec().build();
            var decision = new dev.trellis.injector.PodInjector(injector.injection.config(anchors, nativeSidecar).build()).inject(pod, dev.trellis.injector.NamespaceMetadata.bare("shop"), false);
            PodSpec injected = ((dev.trellis.injector.PodInjector.Decision.Injected) decision).pod().getSpec();
            List<Container> ours = new ArrayList<>(injected.getInitContainers());
            ours.addAll(injected.getContainers());
            ours.removeIf(c -> !c.getName().startsWith("trellis-"));
            assertThat(ours).extracting(Container::getName).containsExactlyInAnyOrder("trellis-init", "trellis-proxy");
            Map<String, String> images = dockerfileImages();
            for (Container container : ours) {
                assertThat(images).as(container.getImage()).containsKey(container.getImage().replaceAll("^.*/([a-z-]+):.*$", "$1"));
                CommandLine.ParseResult args = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()))
                        .parseArgs(container.getArgs().toArray(String[]::new));
                assertThat(args.unmatched()).as(container.getName()).isEmpty();
                assertThat(args.hasSubcommand()).isTrue();
            }
            Container proxy = ours.stream().filter(c -> c.getName().equals("trellis-proxy")).findFirst().orElseThrow();
            assertThat(proxy.getEnv()).extracting(e -> e.getName()).filteredOn(n -> n.startsWith("TRELLIS_PROXY_"))
                    .isNotEmpty().allSatisfy(n -> assertThat(proxyVariables).as("`trellis proxy` reads " + n).contains(n));
            if (!nativeSidecar) {
                List<String> hook = proxy.getLifecycle().getPostStart().getExec().getCommand();
                List<String> cli = hook.subList(hook.indexOf("dev.trellis.cli.Main") + 1, hook.size());
                assertThat(Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()))
                        .parseArgs(cli.toArray(String[]::new)).unmatched()).isEmpty();
            }
        }
    }

    /** The proxy image runs the JVM as the launcher runs `trellis proxy` (the configuration the benchmarks measured). */
    @Test
    void theProxyImageRunsTheJvmAsTheLauncherRunsTheProxy() throws Exception {
        String launcher = Files.readString(Path.of("..", "trellis"));
        Matcher roleOptions = Pattern.compile("if \\[\\[ \"\\$\\{1:-\\}\" == \"proxy\" \\]\\]; then\\s+ROLE_OPTS=\\(([^)]*)\\)").matcher(launcher);
        assertThat(roleOptions.find()).as("the launcher's proxy options").isTrue();
        List<String> expected = new ArrayList<>(List.of(roleOptions.group(1).trim().split("\\s+")));
        expected.addAll(List.of("-Xlog:disable", "-Xlog:all=warning:stderr", "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        assertThat(proxyEntrypoint()).containsAll(expected);
    }

    /** The image's AOT cache is trained with the JVM, options and class path its proxy runs with, or the JVM would refuse it. */
    @Test
    void theProxyImagesAotCacheIsTrainedAsTheProxyRuns() throws Exception {
        String dockerfile = Files.readString(DOCKERFILE).replace("\\\n", " ");
        List<String> runs = new ArrayList<>(proxyEntrypoint());
        assertThat(runs.remove("-XX:AOTCache=/opt/trellis/proxy.aot")).as("the proxy reads the trained cache").isTrue();
        Matcher training = Pattern.compile("RUN /opt/trellis-build/proxy-aot-training\\.sh /opt/trellis/proxy\\.aot (.*)").matcher(dockerfile);
        assertThat(training.find()).as("the training run").isTrue();
        List<String> trained = List.of(training.group(1).replace("\"", "").trim().split("\\s+"));
        assertThat(trained).isEqualTo(runs);
        assertThat(dockerfile).contains("COPY --from=proxy-aot /opt/trellis/proxy.aot /opt/trellis/proxy.aot");
    }

    /** The proxy image's ENTRYPOINT, word by word. */
    private static List<String> proxyEntrypoint() throws java.io.IOException {
        String dockerfile = Files.readString(DOCKERFILE).replace("\\\n", " ");
        Matcher entrypoint = Pattern.compile("LABEL dev\\.trellis\\.image=\"proxy\"[\\s\\S]*?ENTRYPOINT \\[([^\\]]*)\\]").matcher(dockerfile);
        assertThat(entrypoint.find()).as("the proxy image's ENTRYPOINT").isTrue();
        return Pattern.compile("\"([^\"]*)\"").matcher(entrypoint.group(1)).results().map(m -> m.group(1)).toList();
    }

    /** The TRELLIS_* variables a command's options default from ({@code ${env:NAME}} in the annotations). */
    private static Set<String> environmentVariablesOf(Class<?> command) {
        Set<String> names = new java.util.HashSet<>();
        for (java.lang.reflect.Field field : command.getDeclaredFields()) {
            CommandLine.Option option = field.getAnnotation(CommandLine.Option.class);
            if (option != null) {
                Matcher variable = Pattern.compile("\\$\\{env:([A-Z_]+)").matcher(option.defaultValue());
                while (variable.find()) {
                    names.add(variable.group(1));
                }
            }
        }
        return names;
    }

    @Test
    void everyImageTheManifestsNameIsOneTheDockerfileBuilds() throws Exception {
        Map<String, String> targets = dockerfileImages();
        assertThat(targets).isNotEmpty();
        for (Container container : containers(rendered(false))) {
            String image = container.getImage();
            Matcher name = Pattern.compile("ghcr\\.io/trellis-dev/([a-z-]+):([^:]+)").matcher(image);
            assertThat(name.matches()).as(image).isTrue();
            assertThat(targets).as("a Dockerfile target labelled dev.trellis.image=\"%s\"", name.group(1)).containsKey(name.group(1));
            assertThat(name.group(2)).isEqualTo(dev.trellis.core.version.TrellisVersion.current());
        }
    }

    /** Image name (label dev.trellis.image) to the stage that carries it. */
    private static Map<String, String> dockerfileImages() throws Exception {
        Map<String, String> images = new HashMap<>();
        String stage = null;
        Pattern from = Pattern.compile("(?i)^FROM\\s+\\S+\\s+AS\\s+(\\S+)\\s*$");
        Pattern label = Pattern.compile("^LABEL\\s+dev\\.trellis\\.image=\"([a-z-]+)\"\\s*$");
        for (String line : Files.readAllLines(DOCKERFILE)) {
            Matcher stageLine = from.matcher(line);
            if (stageLine.matches()) {
                stage = stageLine.group(1);
            }
            Matcher labelLine = label.matcher(line);
            if (labelLine.matches()) {
                images.put(labelLine.group(1), stage);
            }
        }
        return images;
    }

    private List<HasMetadata> rendered(boolean ha) throws Exception {
        TestPki pki = TestPki.create(dir.resolve(ha ? "ha" : "single"));
        InstallOptions.IdentityMaterial material = IdentityFiles.read(pki.trustAnchorFile(),
                Optional.of(new IdentityFiles.IssuerFiles(pki.issuerCertificateFile(), pki.issuerKeyFile())), Instant.now());
        return ControlPlane.objects(InstallOptions.builder(material).ha(ha).strictVisibility(true)
                .webhook(Optional.of(InstallOptions.WebhookTls.generate("trellis", "cluster.local", Instant.now()))).build(), new SecureRandom());
    }

    /** Trellis's own containers (upstream ones, Prometheus, are checked apart). */
    private static List<Container> containers(List<HasMetadata> objects) {
        return allContainers(objects).stream().filter(c -> c.getImage().startsWith(dev.trellis.install.InstallOptions.Builder.DEFAULT_REGISTRY + "/")).toList();
    }

    @Test
    void theOnlyUpstreamImageIsThePinnedPrometheusBesideViz() throws Exception {
        List<Container> upstream = allContainers(rendered(false)).stream()
                .filter(c -> !c.getImage().startsWith(dev.trellis.install.InstallOptions.Builder.DEFAULT_REGISTRY + "/")).toList();
        assertThat(upstream).singleElement().satisfies(c -> {
            assertThat(c.getName()).isEqualTo("prometheus");
            assertThat(c.getImage()).isEqualTo(dev.trellis.install.InstallOptions.Builder.DEFAULT_PROMETHEUS_IMAGE).matches(".*:v[0-9]+\\.[0-9]+\\.[0-9]+");
            assertThat(c.getArgs()).contains("--web.listen-address=127.0.0.1:9090", "--storage.tsdb.retention.time=6h");
        });
    }

    private static List<Container> allContainers(List<HasMetadata> objects) {
        List<Container> containers = new ArrayList<>();
        for (HasMetadata object : objects) {
            if (object instanceof Deployment deployment) {
                PodSpec pod = deployment.getSpec().getTemplate().getSpec();
                containers.addAll(pod.getContainers());
                if (pod.getInitContainers() != null) {
                    containers.addAll(pod.getInitContainers());
                }
            }
        }
        return containers;
    }
}
