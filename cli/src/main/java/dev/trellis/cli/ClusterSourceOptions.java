package dev.trellis.cli;

import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.kubernetes.KubernetesClusterSource;
import dev.trellis.cluster.kubernetes.WatchedResource;
import dev.trellis.cluster.local.LocalDirectorySource;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import picocli.CommandLine.Option;

/** {@code --kubernetes} or {@code --local DIR}: where a control-plane command reads cluster state. Exactly one. */
final class ClusterSourceOptions {

    @Option(names = "--kubernetes", description = "Read cluster state from the Kubernetes API (in-cluster config or kubeconfig).")
    boolean kubernetes;

    @Option(names = "--local", paramLabel = "DIR", description = "Read cluster state from the manifests in DIR, reloaded when they change.")
    Path local;

    /**
     * Starts the chosen source (closing it also closes its Kubernetes client); from Kubernetes
     * it watches only {@code watched}, which is all the component's RBAC grants.
     */
    ClusterSource open(Set<WatchedResource> watched) {
        if (!kubernetes) {
            return LocalDirectorySource.start(local, Duration.ofMillis(500));
        }
        Config config = Config.autoConfigure(null);
        config.setConnectionTimeout(5_000);
        return KubernetesClusterSource.startOwning(new KubernetesClientBuilder().withConfig(config).build(), Duration.ofMillis(50), watched);
    }
}
