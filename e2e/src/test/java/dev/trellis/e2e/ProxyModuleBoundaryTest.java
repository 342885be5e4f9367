package dev.trellis.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The proxy module's boundary (issue 21): other modules use {@code dev.trellis.proxy} — the
 * {@code Proxy}, its {@code ProxyConfig} and the values these take — never a subpackage, whose
 * types are public only so that the proxy's own packages can share them. JMH benchmarks of one
 * of the proxy's layers ({@code benchmarks/.../*Benchmark.java}) measure that layer alone, as
 * the proxy's own tests do, and are the one exception.
 */
class ProxyModuleBoundaryTest {

    private static final Pattern SUBPACKAGE = Pattern.compile("dev\\.trellis\\.proxy\\.[a-z][a-z0-9_]*\\.");

    @Test
    void noOtherModuleReachesIntoAProxySubpackage() throws IOException {
        List<String> reaching = new ArrayList<>();
        try (Stream<Path> files = Files.walk(Distribution.ROOT)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Path relative = Distribution.ROOT.relativize(file);
                if (relative.startsWith("proxy") || relative.toString().contains("/target/") || relative.startsWith(".git")
                        || (relative.startsWith("benchmarks") && relative.getFileName().toString().endsWith("Benchmark.java"))) {
                    continue;
                }
                List<String> lines = Files.readAllLines(file);
                for (int i = 0; i < lines.size(); i++) {
                    Matcher matcher = SUBPACKAGE.matcher(lines.get(i));
                    if (matcher.find()) {
                        reaching.add(relative + ":" + (i + 1) + ": " + lines.get(i).strip());
                    }
                }
            }
        }
        assertThat(reaching).as("uses of a proxy subpackage outside the proxy module").isEmpty();
    }
}
