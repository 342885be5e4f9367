package dev.trellis.cli;

import dev.trellis.install.ControlPlane;
import dev.trellis.install.InstallOptions;
import dev.trellis.cluster.manifest.ManifestStream;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code trellis uninstall}: what to delete, in an order that deletes cleanly. */
@Command(mixinStandardHelpOptions = true, name = "uninstall", description = {
        "Print the control plane's objects for `kubectl delete --ignore-not-found -f -`: the webhook first, the namespace last.",
        "With --crds, the policy CRDs instead: deleting them deletes every Server, policy and route in the cluster."})
final class UninstallCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    InstallCommand.ControlPlaneOptions controlPlane;

    @Option(names = "--crds", description = "Print the policy CRDs (delete them after the control plane).")
    boolean crds;

    @Override
    public Integer call() {
        if (crds) {
            spec.commandLine().getOut().print(ManifestStream.yaml(ControlPlane.forDeletion(ControlPlane.crds())));
            return 0;
        }
        // Names and kinds do not depend on the PKI: render with none, and with the injector (--ignore-not-found covers an install without it).
        InstallOptions options = InstallOptions.builder(new InstallOptions.IdentityMaterial("", Optional.of(new InstallOptions.IdentityMaterial.Issuer("", ""))))
                .namespace(controlPlane.namespace).trustDomain(controlPlane.trustDomain).clusterDomain(controlPlane.clusterDomain)
                .webhook(Optional.of(new InstallOptions.WebhookTls("", "", ""))).build();
        spec.commandLine().getOut().print(ManifestStream.yaml(ControlPlane.forDeletion(ControlPlane.objects(options, new SecureRandom()))));
        return 0;
    }
}
