package dev.trellis.install.check;

import dev.trellis.cluster.routes.GatewayRoutes;
import dev.trellis.cluster.routes.RouteStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.RouteParentStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The Gateway API's routes (docs/routes.md): whether the user installed the HTTPRoute and
 * GRPCRoute CRDs (Trellis never ships them), which release and channel, whether they serve the
 * version Trellis reads, and which routes on Services the destination service refused or
 * cannot fully resolve, with the reason from their status.
 */
final class RouteChecks {

    static final String HINT = "docs/routes.md";
    static final String BUNDLE_VERSION = "gateway.networking.k8s.io/bundle-version";
    static final String CHANNEL = "gateway.networking.k8s.io/channel";

    private RouteChecks() {
    }

    static CheckReport.Category run(KubernetesClient client) {
        List<CheckResult> results = new ArrayList<>();
        java.util.Set<String> served = new java.util.HashSet<>();
        for (String plural : List.of("httproutes", "grpcroutes", "tcproutes")) {
            String version = plural.equals("tcproutes") ? GatewayRoutes.TCP_ROUTE_VERSION : GatewayRoutes.VERSION;
            String name = plural + "." + GatewayRoutes.GROUP;
            CustomResourceDefinition crd;
            try {
                crd = client.apiextensions().v1().customResourceDefinitions().withName(name).get();
            } catch (KubernetesClientException e) {
                results.add(CheckResult.warning("the Gateway API's " + name + " CRD can be read", "cannot read CRDs: " + e.getMessage(), HINT));
                continue;
            }
            String description = "the Gateway API's " + name + " CRD serves " + GatewayRoutes.GROUP + "/" + version;
            if (crd == null) {
                // Routes are optional: without them the mesh works, and this says what is not read.
                results.add(CheckResult.ok("the Gateway API's " + name + " CRD is not installed: " + plural
                        + " on Services are not read until it is (docs/routes.md)"));
                continue;
            }
            Map<String, String> annotations = crd.getMetadata().getAnnotations() == null ? Map.of() : crd.getMetadata().getAnnotations();
            String release = annotations.getOrDefault(BUNDLE_VERSION, "an unknown release") + " (" + annotations.getOrDefault(CHANNEL, "unknown") + " channel)";
            if (crd.getSpec().getVersions().stream().noneMatch(v -> version.equals(v.getName()) && Boolean.TRUE.equals(v.getServed()))) {
                results.add(CheckResult.error(description, release + " does not serve " + version + "; Trellis reads " + plural + " in "
                        + version + " only: install a release that serves it", HINT));
                continue;
            }
            served.add(plural);
            results.add(CheckResult.ok(description + ": " + release));
        }
        if (!served.isEmpty()) {
            results.add(refusedRoutes(client, served));
        }
        return new CheckReport.Category("gateway-api", results);
    }

    /** Routes whose status, as the destination service wrote it, says a parent is not accepted or a backend not resolved. */
    private static CheckResult refusedRoutes(KubernetesClient client, java.util.Set<String> served) {
        String description = "every route on a Service is carried out";
        List<String> problems = new ArrayList<>();
        try {
            if (served.contains("httproutes")) {
                for (HTTPRoute route : client.resources(HTTPRoute.class).inAnyNamespace().list().getItems()) {
                    collect(route, route.getStatus() == null ? null : route.getStatus().getParents(), problems);
                }
            }
            if (served.contains("grpcroutes")) {
                for (GRPCRoute route : client.resources(GRPCRoute.class).inAnyNamespace().list().getItems()) {
                    collect(route, route.getStatus() == null ? null : route.getStatus().getParents(), problems);
                }
            }
            if (served.contains("tcproutes")) {
                for (var route : client.resources(io.fabric8.kubernetes.api.model.gatewayapi.v1alpha2.TCPRoute.class).inAnyNamespace().list().getItems()) {
                    collect(route, route.getStatus() == null ? null : route.getStatus().getParents(), problems);
                }
            }
        } catch (KubernetesClientException e) {
            return CheckResult.warning(description, "cannot list routes: " + e.getMessage(), HINT);
        }
        return problems.isEmpty() ? CheckResult.ok(description)
                : CheckResult.warning(description, problems.size() + " are not: " + String.join("; ", problems), HINT);
    }

    private static void collect(HasMetadata route, List<RouteParentStatus> parents, List<String> problems) {
        for (RouteParentStatus parent : parents == null ? List.<RouteParentStatus>of() : parents) {
            if (!RouteStatus.CONTROLLER.equals(parent.getControllerName()) || parent.getConditions() == null) {
                continue;
            }
            for (Condition condition : parent.getConditions()) {
                if ("False".equals(condition.getStatus())) {
                    problems.add(route.getKind() + " " + route.getMetadata().getNamespace() + "/" + route.getMetadata().getName() + " "
                            + condition.getType() + " " + condition.getReason() + ": " + condition.getMessage());
                }
            }
        }
    }
}
