package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The sidecar's class path (issue 21): the launcher and the proxy image run `trellis proxy`
 * from cli/target/proxy-lib, which holds no grpc-java, protobuf-java or Kubernetes client, and
 * every class of the proxy's modules links against it alone. (The simulated cluster's pods run
 * the proxy image, so the e2e tests also run the proxy from it.)
 */
class ProxyClassPathTest {

    private static final Path PROXY_LIB = Distribution.ROOT.resolve("cli/target/proxy-lib");
    private static final Path CLI_JAR = Distribution.ROOT.resolve("cli/target/trellis-cli.jar");
    private static final List<String> PROXY_MODULES = List.of("trellis-proxy", "trellis-wire", "trellis-tls", "trellis-admin", "trellis-core",
            "trellis-ratelimit");

    private static List<Path> jars() throws IOException {
        try (Stream<Path> files = Files.list(PROXY_LIB)) {
            return files.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
        }
    }

    @Test
    void theProxysClassPathHoldsNoGrpcProtobufOrKubernetesClient() throws Exception {
        assertThat(PROXY_LIB).as("packaged by the cli module (./mvnw verify)").isDirectory();
        List<String> names = jars().stream().map(p -> p.getFileName().toString()).toList();
        assertThat(names).noneMatch(n -> n.startsWith("grpc-") || n.startsWith("protobuf-") || n.startsWith("proto-google-")
                || n.startsWith("guava-") || n.startsWith("kubernetes-") || n.startsWith("vertx-") || n.startsWith("trellis-api-"));
        assertThat(names).anyMatch(n -> n.startsWith("trellis-proxy-")).anyMatch(n -> n.startsWith("trellis-wire-"));
        // Not by name alone: none of their classes can be loaded from it, whatever jar might carry them.
        List<URL> urls = new ArrayList<>(List.of(CLI_JAR.toUri().toURL()));
        for (Path jar : jars()) {
            urls.add(jar.toUri().toURL());
        }
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            for (String absent : List.of("io.grpc.Channel", "io.grpc.netty.NettyChannelBuilder", "com.google.protobuf.MessageLite",
                    "com.google.common.collect.ImmutableList", "io.fabric8.kubernetes.client.KubernetesClient", "dev.trellis.api.tap.v1.TapEvent")) {
                assertThat(loader.getResource(absent.replace('.', '/') + ".class")).as("%s on the proxy's class path", absent).isNull();
            }
        }
    }

    @Test
    void everyClassOfTheProxysModulesLinksAgainstThatClassPathAlone() throws Exception {
        List<URL> urls = new ArrayList<>(List.of(CLI_JAR.toUri().toURL()));
        for (Path jar : jars()) {
            urls.add(jar.toUri().toURL());
        }
        List<String> failures = new ArrayList<>();
        int checked = 0;
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            List<String> classes = new ArrayList<>(List.of("dev.trellis.cli.ProxyCommand"));
            for (Path jar : jars()) {
                String name = jar.getFileName().toString();
                if (PROXY_MODULES.stream().anyMatch(m -> name.startsWith(m + "-"))) {
                    classes.addAll(classesIn(jar));
                }
            }
            for (String name : classes) {
                try {
                    Class<?> type = Class.forName(name, false, loader);
                    // Resolves every type in its fields' and methods' signatures.
                    type.getDeclaredFields();
                    type.getDeclaredMethods();
                    type.getDeclaredConstructors();
                    checked++;
                } catch (LinkageError | ClassNotFoundException e) {
                    failures.add(name + ": " + e);
                }
            }
        }
        assertThat(failures).as("classes that need something the proxy's class path lacks").isEmpty();
        assertThat(checked).isGreaterThan(200);
    }

    /** The commands the proxy container runs: `trellis proxy`, and `trellis await` in its postStart hook. */
    @Test
    void theProxyContainersCommandsStartFromThatClassPathAlone() throws Exception {
        for (String command : List.of("proxy", "await")) {
            Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", CLI_JAR + java.io.File.pathSeparator + PROXY_LIB + "/*", "dev.trellis.cli.Main", command, "--help")
                    .redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertThat(process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).as("trellis %s --help from the proxy's class path:%n%s", command, output).isZero();
            assertThat(output).contains("Usage: trellis " + command);
        }
    }

    @Test
    void theLauncherAndTheProxyImageRunTheProxyFromIt() throws Exception {
        String launcher = Files.readString(Distribution.ROOT.resolve("trellis"));
        assertThat(launcher).contains("PROXY_LIB=\"$ROOT/cli/target/proxy-lib\"").contains("CLASSPATH=\"$JAR:$PROXY_LIB/*\"");
        String dockerfile = Files.readString(Distribution.ROOT.resolve("images/Dockerfile"));
        String proxyStage = dockerfile.substring(dockerfile.indexOf("AS proxy\n"), dockerfile.indexOf("CMD [\"proxy\"]"));
        assertThat(proxyStage).contains("COPY cli/target/proxy-lib/ /opt/trellis/lib/").doesNotContain("cli/target/lib/");
    }

    private static List<String> classesIn(Path jar) throws IOException {
        List<String> names = new ArrayList<>();
        try (JarFile file = new JarFile(jar.toFile())) {
            Enumeration<JarEntry> entries = file.entries();
            while (entries.hasMoreElements()) {
                String entry = entries.nextElement().getName();
                if (entry.endsWith(".class") && !entry.endsWith("module-info.class") && !entry.startsWith("META-INF/")) {
                    names.add(entry.substring(0, entry.length() - ".class".length()).replace('/', '.'));
                }
            }
        }
        return names;
    }
}
