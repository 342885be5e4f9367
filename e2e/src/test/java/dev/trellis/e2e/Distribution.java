package dev.trellis.e2e;

import dev.trellis.testing.cluster.ImageCatalog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The images the simulated cluster runs: the Dockerfile's targets, filled with the packaged
 * distribution ({@code cli/target}) and, for the jlinked runtime, the JDK running the tests.
 */
final class Distribution {

    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    private Distribution() {
    }

    static ImageCatalog images() throws IOException {
        Path jar = ROOT.resolve("cli/target/trellis-cli.jar");
        if (!Files.isRegularFile(jar) || !Files.isDirectory(ROOT.resolve("cli/target/lib"))) {
            throw new IllegalStateException("e2e: " + jar + " and cli/target/lib are missing; these tests run after the cli module is packaged (./mvnw verify)");
        }
        // No image is built here, so the proxy image's AOT cache stands in as an empty file: its JVM refuses it
        // with a line on stderr and starts without, as it would with a cache that does not fit.
        Path noAotCache = ROOT.resolve("e2e/target/simulated-proxy.aot");
        Files.createDirectories(noAotCache.getParent());
        Files.write(noAotCache, new byte[0]);
        ImageCatalog catalog = ImageCatalog.read(ROOT.resolve("images/Dockerfile"), ROOT, Map.of("runtime:/opt/trellis-runtime", Path.of(System.getProperty("java.home")),
                "proxy-aot:/opt/trellis/proxy.aot", noAotCache));
        // The upstream Prometheus install runs beside viz: Debian's build of it stands in for the official image (.ci/run installs it).
        Path prometheus = Path.of("/usr/bin/prometheus");
        return Files.isExecutable(prometheus)
                ? catalog.with(new ImageCatalog.Image("prometheus", List.of(prometheus.toString()), List.of(), Map.of(), java.util.Optional.empty(), Map.of()))
                : catalog;
    }

    /** The uid and whether the root file system is read-only, of the process whose command line has all of {@code words}. */
    record ProcessView(long uid, boolean readOnlyRoot) {}

    static ProcessView process(List<String> words) throws IOException {
        ProcessHandle handle = ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> words.stream().allMatch(c::contains)).orElse(false))
                .findFirst().orElseThrow(() -> new AssertionError("no process with " + words));
        long uid = Files.readAllLines(Path.of("/proc", String.valueOf(handle.pid()), "status")).stream()
                .filter(l -> l.startsWith("Uid:")).map(l -> Long.parseLong(l.split("\\s+")[1])).findFirst().orElseThrow();
        boolean readOnly = Files.readAllLines(Path.of("/proc", String.valueOf(handle.pid()), "mountinfo")).stream()
                .map(l -> l.split(" ")).filter(f -> f[4].equals("/")).anyMatch(f -> f[5].startsWith("ro"));
        return new ProcessView(uid, readOnly);
    }
}
