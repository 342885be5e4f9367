package dev.trellis.cluster.kubernetes;

import dev.trellis.cluster.policy.PolicyResources;
import dev.trellis.cluster.routes.GatewayRoutes;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * What a {@link KubernetesClusterSource} watches, as the API names it: a component watches
 * only what it reads, and the installer grants exactly that (list and watch, never more), so
 * the set here and the component's RBAC rules cannot drift apart.
 */
public enum WatchedResource {
    SERVICES("", List.of("services")),
    ENDPOINT_SLICES("discovery.k8s.io", List.of("endpointslices")),
    PODS("", List.of("pods")),
    NAMESPACES("", List.of("namespaces")),
    SERVICE_ACCOUNTS("", List.of("serviceaccounts")),
    /** Trellis's seven policy kinds. */
    POLICY(PolicyResources.GROUP, PolicyResources.KINDS.stream().map(KubernetesClusterSource::plural).toList()),
    /**
     * The Gateway API's HTTPRoutes and GRPCRoutes (GAMMA), read when their CRDs are installed
     * (the user installs them; Trellis never ships them).
     */
    GATEWAY_ROUTES(GatewayRoutes.GROUP, List.of("httproutes", "grpcroutes", "tcproutes"));

    /** What the destination service reads. */
    public static final Set<WatchedResource> ALL = EnumSet.allOf(WatchedResource.class);
    /** Where the proxies are, and nothing else. */
    public static final Set<WatchedResource> PODS_ONLY = EnumSet.of(PODS);
    /** What the metrics API and dashboard read: where the proxies are, the Services they call (topology), the policy on their ports. */
    public static final Set<WatchedResource> VIZ = EnumSet.of(PODS, SERVICES, POLICY);

    private final String apiGroup;
    private final List<String> resources;

    WatchedResource(String apiGroup, List<String> resources) {
        this.apiGroup = apiGroup;
        this.resources = resources;
    }

    /** The API group ({@code ""} for the core group). */
    public String apiGroup() {
        return apiGroup;
    }

    /** The resource names (plural, lower case) in that group. */
    public List<String> resources() {
        return resources;
    }
}
