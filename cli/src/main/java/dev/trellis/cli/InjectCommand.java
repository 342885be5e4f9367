package dev.trellis.cli;

import dev.trellis.injector.PodInjector;
import dev.trellis.injector.manifests.ManifestInjector;
import dev.trellis.injector.manifests.ManifestSource;
import dev.trellis.tls.pki.TrustAnchors;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trellis inject}: manifests with their pods marked for the injector, or (--manual) injected here. */
@Command(name = "inject", mixinStandardHelpOptions = true, description = {
        "Print manifests with every pod template labelled and annotated trellis.dev/inject=enabled, for the injector webhook:",
        "  trellis inject app.yaml | kubectl apply -f -",
        "With --manual, add proxy-init and the proxy here, as the webhook would (native sidecar form unless",
        "--native-sidecar=false or the pod's config.trellis.dev/proxy-native-sidecar annotation says otherwise).",
        "Reads files, directories, - (stdin) and https:// URLs; never plain http://."})
final class InjectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE|DIR|-|https://URL", arity = "1..*", description = "Manifests (YAML or JSON, several documents allowed).")
    List<String> locations;

    @Option(names = "--manual", description = "Add the proxy and proxy-init to the pods here instead of annotating them for the webhook.")
    boolean manual;

    @Option(names = "--native-sidecar", defaultValue = "true", arity = "1", paramLabel = "true|false",
            description = "With --manual: the proxy as a native sidecar (Kubernetes 1.29+), else as the first container (default: ${DEFAULT-VALUE}).")
    boolean nativeSidecar;

    @Option(names = "--trust-anchors", paramLabel = "FILE",
            description = "With --manual: the mesh's PEM trust anchors (trust-anchor.pem from `trellis identity bootstrap`).")
    Path trustAnchors;

    @Mixin
    InjectionOptions injection;

    @Override
    public Integer call() throws Exception {
        ManifestInjector injector;
        if (manual) {
            if (trustAnchors == null) {
                throw new IllegalArgumentException("inject: --manual needs --trust-anchors FILE: the proxies verify the mesh against them "
                        + "(the webhook reads them from the cluster; here there is no cluster to ask)");
            }
            String pem = Files.readString(trustAnchors, StandardCharsets.UTF_8);
            TrustAnchors.parse(pem, trustAnchors.toString());
            injector = new ManifestInjector(Optional.of(new PodInjector(injection.config(pem, nativeSidecar).build())));
        } else {
            if (trustAnchors != null) {
                throw new IllegalArgumentException("inject: --trust-anchors is for --manual; without it the webhook injects");
            }
            injector = new ManifestInjector(Optional.empty());
        }
        return ManifestRewrite.run(spec, locations, injector, manual ? ManifestInjector.Mode.MANUAL : ManifestInjector.Mode.ANNOTATE, "injected");
    }

    /** Reads every location, rewrites it, prints the result on stdout and what changed on stderr. Shared with {@code uninject}. */
    static final class ManifestRewrite {
        private ManifestRewrite() {
        }

        static int run(CommandSpec spec, List<String> locations, ManifestInjector injector, ManifestInjector.Mode mode, String verb) throws Exception {
            ManifestSource source = new ManifestSource();
            StringBuilder out = new StringBuilder();
            for (String location : locations) {
                for (ManifestSource.Named named : source.read(location, System.in)) {
                    ManifestInjector.Result result = injector.apply(named.text(), named.name(), mode);
                    out.append(result.yaml());
                    for (String object : result.changed()) {
                        spec.commandLine().getErr().println(object.toLowerCase(java.util.Locale.ROOT) + " " + verb);
                    }
                    for (String object : result.unchanged()) {
                        spec.commandLine().getErr().println(object.toLowerCase(java.util.Locale.ROOT) + " unchanged");
                    }
                    for (String skipped : result.skipped()) {
                        int colon = skipped.indexOf(": ");
                        spec.commandLine().getErr().println(skipped.substring(0, colon).toLowerCase(java.util.Locale.ROOT) + " " + skipped.substring(colon + 2));
                    }
                }
            }
            // Printed only once everything was read: a bad file leaves no half a stream on stdout for kubectl to apply.
            spec.commandLine().getOut().print(out);
            return 0;
        }
    }
}
