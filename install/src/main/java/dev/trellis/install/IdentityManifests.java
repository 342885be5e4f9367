package dev.trellis.install;

import dev.trellis.core.identity.ControlPlaneComponent;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The identity service (the mesh CA): its ServiceAccount, the one permission it needs (create
 * TokenReviews, to authenticate callers' service-account tokens), its Deployment reading the
 * trust anchors and the issuer Secret from volumes (the issuer reloaded when cert-manager or
 * a reinstall changes it), its Service on 8080 and its NetworkPolicy.
 */
final class IdentityManifests {

    static final String ROLE = "identity";
    static final int GRPC_PORT = 8080;
    static final int ADMIN_PORT = 9990;
    static final int PROBE_PORT = 9991;
    static final String ISSUER_DIR = "/var/run/trellis/issuer";

    private IdentityManifests() {
    }

    static List<HasMetadata> objects(InstallOptions options) {
        ControlPlaneWorkload workload = new ControlPlaneWorkload(options, ControlPlaneComponent.IDENTITY, ROLE, ControlPlaneWorkload.Replication.HA);
        List<String> args = new ArrayList<>(List.of("identity", "serve",
                "--kubernetes",
                "--trust-domain", options.trustDomain(),
                "--namespace", options.namespace(),
                "--trust-anchor", ControlPlaneWorkload.TRUST_ANCHORS_FILE,
                "--issuer-cert", ISSUER_DIR + "/tls.crt",
                "--issuer-key", ISSUER_DIR + "/tls.key",
                "--leaf-lifetime", dev.trellis.core.time.DurationText.format(options.leafLifetime()),
                "--listen", "0.0.0.0:" + GRPC_PORT,
                "--admin", "127.0.0.1:" + ADMIN_PORT,
                "--probe", "0.0.0.0:" + PROBE_PORT));
        List<io.fabric8.kubernetes.api.model.rbac.PolicyRule> rules = new ArrayList<>(List.of(new PolicyRuleBuilder()
                .withApiGroups("authentication.k8s.io").withResources("tokenreviews").withVerbs("create").build()));
        if (options.nodeMode()) {
            // A node proxy's request is checked against the pods scheduled on its node (docs/node-mode.md).
            args.add("--node-proxies");
            rules.add(new PolicyRuleBuilder().withApiGroups("").withResources("pods").withVerbs("get", "list").build());
        }
        var container = workload.container(args, List.of(ControlPlaneWorkload.port("grpc", GRPC_PORT)),
                new ControlPlaneWorkload.Resources("100m", "1", "256Mi"), PROBE_PORT,
                List.of(ControlPlaneWorkload.trustAnchorsMount(),
                        new VolumeMountBuilder().withName("issuer").withMountPath(ISSUER_DIR).withReadOnly(true).build()));
        var pod = workload.pod(container, List.of(ControlPlaneWorkload.trustAnchorsVolume(),
                new VolumeBuilder().withName("issuer").withNewSecret().withSecretName(ControlPlaneNamespace.ISSUER_SECRET).withDefaultMode(0440).endSecret().build()), true);
        List<HasMetadata> objects = new ArrayList<>();
        objects.add(workload.serviceAccount());
        objects.addAll(workload.clusterRole(rules));
        objects.add(workload.deployment(pod, Map.of()));
        objects.add(workload.service(Map.of("grpc", GRPC_PORT)));
        objects.add(workload.networkPolicy(List.of(GRPC_PORT, PROBE_PORT)));
        workload.disruptionBudget().ifPresent(objects::add);
        return objects;
    }
}
