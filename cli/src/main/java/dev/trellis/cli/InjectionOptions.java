package dev.trellis.cli;

import dev.trellis.injector.InjectorConfig;
import dev.trellis.install.InstallOptions;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** What {@code trellis injector} and {@code trellis inject --manual} both need to know to mutate a pod: the installation and its images. */
final class InjectionOptions {

    @Mixin
    InstallCommand.ControlPlaneOptions controlPlane;

    @Option(names = "--registry", defaultValue = InstallOptions.Builder.DEFAULT_REGISTRY,
            description = "Where the proxy and proxy-init images are (default: ${DEFAULT-VALUE}).")
    String registry;

    @Option(names = "--proxy-version", paramLabel = "TAG", description = "Image tag of proxy and proxy-init (default: this CLI's version).")
    String proxyVersion;

    @Option(names = "--proxy-image", paramLabel = "IMAGE", description = "The proxy's image by its full name (default: REGISTRY/proxy:TAG).")
    String proxyImage;

    @Option(names = "--proxy-init-image", paramLabel = "IMAGE", description = "proxy-init's image by its full name (default: REGISTRY/proxy-init:TAG).")
    String proxyInitImage;

    @Option(names = "--image-pull-policy", defaultValue = "IfNotPresent", description = "Always, IfNotPresent or Never (default: ${DEFAULT-VALUE}).")
    String imagePullPolicy;

    /** The injector's settings with these options and {@code trustAnchorsPem}; {@code nativeSidecar} as decided by the caller. */
    InjectorConfig.Builder config(String trustAnchorsPem, boolean nativeSidecar) {
        InjectorConfig.Builder config = InjectorConfig.builder(trustAnchorsPem)
                .namespace(controlPlane.namespace)
                .trustDomain(controlPlane.trustDomain)
                .clusterDomain(controlPlane.clusterDomain)
                .imagePullPolicy(imagePullPolicy)
                .nativeSidecar(nativeSidecar);
        if (proxyVersion != null) {
            config.images(registry, proxyVersion);
        } else {
            config.images(registry, dev.trellis.core.version.TrellisVersion.current());
        }
        if (proxyImage != null) {
            config.proxyImage(proxyImage);
        }
        if (proxyInitImage != null) {
            config.proxyInitImage(proxyInitImage);
        }
        return config;
    }
}
