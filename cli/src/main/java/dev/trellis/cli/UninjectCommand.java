package dev.trellis.cli;

import dev.trellis.injector.manifests.ManifestInjector;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trellis uninject}: undoes both forms of {@code trellis inject}. */
@Command(name = "uninject", mixinStandardHelpOptions = true, description = {
        "Print manifests without Trellis: the inject annotation, and the proxy and proxy-init that --manual added, removed.",
        "Reads files, directories, - (stdin) and https:// URLs; never plain http://."})
final class UninjectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE|DIR|-|https://URL", arity = "1..*", description = "Manifests (YAML or JSON, several documents allowed).")
    List<String> locations;

    @Override
    public Integer call() throws Exception {
        return InjectCommand.ManifestRewrite.run(spec, locations, new ManifestInjector(Optional.empty()), ManifestInjector.Mode.UNINJECT, "uninjected");
    }
}
