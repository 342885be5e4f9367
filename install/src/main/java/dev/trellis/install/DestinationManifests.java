package dev.trellis.install;

import dev.trellis.cluster.kubernetes.WatchedResource;
import dev.trellis.cluster.routes.GatewayRoutes;
import dev.trellis.cluster.routes.RouteStatus;
import dev.trellis.core.identity.ControlPlaneComponent;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The destination service: read access to exactly what it watches ({@link WatchedResource#ALL}),
 * its Deployment with a projected token for the identity service, its Service on 8086 and
 * its NetworkPolicy.
 */
final class DestinationManifests {

    static final String ROLE = "destination";
    static final int GRPC_PORT = 8086;
    static final int ADMIN_PORT = 9996;
    static final int PROBE_PORT = 9997;

    private DestinationManifests() {
    }

    static List<HasMetadata> objects(InstallOptions options) {
        ControlPlaneWorkload workload = new ControlPlaneWorkload(options, ControlPlaneComponent.DESTINATION, ROLE, ControlPlaneWorkload.Replication.HA);
        List<String> args = new ArrayList<>(List.of("destination",
                "--kubernetes",
                "--trust-domain", options.trustDomain(),
                "--cluster-domain", options.clusterDomain(),
                "--namespace", options.namespace(),
                "--trust-anchor", ControlPlaneWorkload.TRUST_ANCHORS_FILE,
                "--identity-addr", options.serviceHost(ControlPlaneComponent.IDENTITY.serviceAccount()) + ":" + IdentityManifests.GRPC_PORT,
                "--token-file", ControlPlaneWorkload.IDENTITY_TOKEN_FILE,
                "--default-inbound-policy", options.defaultInboundPolicy().toString(),
                "--listen", "0.0.0.0:" + GRPC_PORT,
                "--admin", "127.0.0.1:" + ADMIN_PORT,
                "--probe", "0.0.0.0:" + PROBE_PORT));
        if (options.strictVisibility()) {
            args.add("--strict-visibility");
        }
        var container = workload.container(args, List.of(ControlPlaneWorkload.port("grpc", GRPC_PORT)),
                new ControlPlaneWorkload.Resources("100m", "1", "384Mi"), PROBE_PORT,
                List.of(ControlPlaneWorkload.trustAnchorsMount(), ControlPlaneWorkload.identityTokenMount()));
        var pod = workload.pod(container, List.of(ControlPlaneWorkload.trustAnchorsVolume(), ControlPlaneWorkload.identityTokenVolume()), true);
        List<HasMetadata> objects = new ArrayList<>();
        objects.add(workload.serviceAccount());
        List<PolicyRule> rules = new ArrayList<>(readRules(WatchedResource.ALL));
        // Its one write: the status of the Gateway API routes it carries out (docs/routes.md).
        rules.add(new PolicyRuleBuilder().withApiGroups(GatewayRoutes.GROUP).withResources(RouteStatus.STATUS_SUBRESOURCES).withVerbs("update").build());
        objects.addAll(workload.clusterRole(rules));
        objects.add(workload.deployment(pod, Map.of()));
        objects.add(workload.service(Map.of("grpc", GRPC_PORT)));
        objects.add(workload.networkPolicy(List.of(GRPC_PORT, PROBE_PORT)));
        workload.disruptionBudget().ifPresent(objects::add);
        return objects;
    }

    /** get, list and watch on exactly {@code watched}, one rule per API group. */
    static List<PolicyRule> readRules(Set<WatchedResource> watched) {
        Map<String, List<String>> byGroup = new java.util.TreeMap<>();
        for (WatchedResource resource : WatchedResource.values()) {
            if (watched.contains(resource)) {
                byGroup.computeIfAbsent(resource.apiGroup(), g -> new ArrayList<>()).addAll(resource.resources());
            }
        }
        return byGroup.entrySet().stream()
                .map(e -> new PolicyRuleBuilder().withApiGroups(e.getKey()).withResources(e.getValue()).withVerbs("get", "list", "watch").build())
                .toList();
    }
}
