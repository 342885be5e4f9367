package dev.trellis.cli;

import dev.trellis.install.check.CheckOptions;
import dev.trellis.install.check.CheckReport;
import dev.trellis.install.check.ClusterCheck;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code trellis check}: is the cluster ready for Trellis, or is Trellis healthy in it. */
@Command(mixinStandardHelpOptions = true, name = "check", description = {
        "Check the Kubernetes API, then the control plane and its identity PKI (or, with --pre, that it can be installed).",
        "One line per check: √ passed, ‼ warning, × failed, with a hint; exit 1 when any check failed."})
final class CheckCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    InstallCommand.ControlPlaneOptions controlPlane;

    @Option(names = "--pre", description = "Check that the control plane can be installed instead.")
    boolean preInstall;

    @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table or json (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--wait", defaultValue = "0s", description = "Retry failed checks for up to this long (e.g. 5m) before reporting (default: ${DEFAULT-VALUE}).")
    Duration wait;

    @Option(names = "--expiry-warning", defaultValue = "60d", description = "Warn when a certificate expires within this (default: ${DEFAULT-VALUE}).")
    Duration expiryWarning;

    @Option(names = "--injector", defaultValue = "true", arity = "1", paramLabel = "true|false",
            description = "The installation has the proxy injector (false when installed with --injector=false) (default: ${DEFAULT-VALUE}).")
    boolean injector;

    @Option(names = "--proxy", description = "Also check the data plane: every pod this control plane meshes has a ready proxy of this version.")
    boolean proxies;

    @Option(names = "--kubeconfig", paramLabel = "FILE", description = "Kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
    Path kubeconfig;

    @Option(names = "--context", description = "Kubeconfig context (default: the current one).")
    String context;

    @Override
    public Integer call() throws Exception {
        if (!output.equals("table") && !output.equals("json")) {
            throw new IllegalArgumentException("check: -o " + output + " is not table or json");
        }
        CheckOptions options = new CheckOptions(controlPlane.namespace, controlPlane.trustDomain, controlPlane.clusterDomain, preInstall, expiryWarning, injector, proxies);
        Clock clock = Clock.systemUTC();
        Instant deadline = clock.instant().plus(wait);
        try (KubernetesClient client = new KubernetesClientBuilder().withConfig(config()).build()) {
            CheckReport report = ClusterCheck.run(client, options, clock);
            while (report.failed() && clock.instant().isBefore(deadline)) {
                spec.commandLine().getErr().println("check: waiting for: " + String.join("; ", report.errors()));
                spec.commandLine().getErr().flush();
                Thread.sleep(Math.min(2000, Math.max(1, Duration.between(clock.instant(), deadline).toMillis())));
                report = ClusterCheck.run(client, options, clock);
            }
            spec.commandLine().getOut().print(output.equals("json") ? report.json() : report.text());
            return report.failed() ? 1 : 0;
        }
    }

    private Config config() {
        Config config = Kubeconfigs.load(kubeconfig, context, "check");
        config.setConnectionTimeout(5_000);
        config.setRequestTimeout(10_000);
        config.setRequestRetryBackoffLimit(0);
        return config;
    }
}
