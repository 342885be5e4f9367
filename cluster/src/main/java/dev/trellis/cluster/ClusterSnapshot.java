package dev.trellis.cluster;

import dev.trellis.cluster.policy.InvalidResourceException;
import dev.trellis.cluster.policy.PolicyParser;
import dev.trellis.cluster.policy.PolicyResources;
import dev.trellis.cluster.routes.GatewayRoutes;
import dev.trellis.cluster.routes.MeshRoute;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.GRPCRoute;
import io.fabric8.kubernetes.api.model.gatewayapi.v1.HTTPRoute;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Cluster state at one moment: the objects the control plane reads, by key, Trellis policy
 * resources already validated, and indexes for the lookups discovery makes (slices of a
 * Service, the Pod or Service behind an IP). Immutable; the objects inside must not be
 * modified. {@code generation} grows with every new snapshot of a source.
 */
public final class ClusterSnapshot {

    /** The label an EndpointSlice carries naming its Service. */
    public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

    public static final ClusterSnapshot EMPTY = new Builder().build(0);

    private final long generation;
    private final Map<ObjectKey, Service> services;
    private final Map<ObjectKey, EndpointSlice> endpointSlices;
    private final Map<ObjectKey, Pod> pods;
    private final Map<String, Namespace> namespaces;
    private final Map<ObjectKey, ServiceAccount> serviceAccounts;
    private final Map<ObjectKey, PolicyResources.Server> servers;
    private final Map<ObjectKey, PolicyResources.AuthorizationPolicy> authorizationPolicies;
    private final Map<ObjectKey, PolicyResources.MeshTlsAuthentication> meshTlsAuthentications;
    private final Map<ObjectKey, PolicyResources.NetworkAuthentication> networkAuthentications;
    private final Map<ObjectKey, PolicyResources.HttpRoute> httpRoutes;
    private final Map<ObjectKey, PolicyResources.EgressPolicy> egressPolicies;
    private final Map<ObjectKey, PolicyResources.RateLimitPolicy> rateLimitPolicies;
    private final Map<MeshRoute.RouteKey, MeshRoute> meshRoutes;
    private final Map<MeshRoute.RouteKey, GatewayRoutes.Parsed.Rejected> rejectedRoutes;
    private final List<String> problems;
    private final Map<ObjectKey, List<EndpointSlice>> slicesByService;
    private final Map<String, Pod> podsByIp;
    private final Map<String, Service> servicesByClusterIp;

    private ClusterSnapshot(Builder b, long generation) {
        this.generation = generation;
        this.services = Map.copyOf(b.services);
        this.endpointSlices = Map.copyOf(b.endpointSlices);
        this.pods = Map.copyOf(b.pods);
        this.namespaces = Map.copyOf(b.namespaces);
        this.serviceAccounts = Map.copyOf(b.serviceAccounts);
        this.servers = Map.copyOf(b.servers);
        this.authorizationPolicies = Map.copyOf(b.authorizationPolicies);
        this.meshTlsAuthentications = Map.copyOf(b.meshTlsAuthentications);
        this.networkAuthentications = Map.copyOf(b.networkAuthentications);
        this.httpRoutes = Map.copyOf(b.httpRoutes);
        this.egressPolicies = Map.copyOf(b.egressPolicies);
        this.rateLimitPolicies = Map.copyOf(b.rateLimitPolicies);
        this.meshRoutes = Map.copyOf(b.meshRoutes);
        this.rejectedRoutes = Map.copyOf(b.rejectedRoutes);
        this.problems = List.copyOf(b.problems);
        Map<ObjectKey, List<EndpointSlice>> bySvc = new HashMap<>();
        for (EndpointSlice slice : new TreeMap<>(endpointSlices).values()) {
            Map<String, String> labels = slice.getMetadata().getLabels();
            String service = labels == null ? null : labels.get(SERVICE_NAME_LABEL);
            if (service != null) {
                bySvc.computeIfAbsent(new ObjectKey(slice.getMetadata().getNamespace(), service), k -> new ArrayList<>()).add(slice);
            }
        }
        bySvc.replaceAll((k, v) -> List.copyOf(v));
        this.slicesByService = Map.copyOf(bySvc);
        Map<String, Pod> byIp = new HashMap<>();
        for (Pod pod : pods.values()) {
            if (pod.getStatus() != null && pod.getStatus().getPodIP() != null && !Boolean.TRUE.equals(pod.getSpec() == null ? null : pod.getSpec().getHostNetwork())) {
                byIp.put(pod.getStatus().getPodIP(), pod);
            }
        }
        this.podsByIp = Map.copyOf(byIp);
        Map<String, Service> byClusterIp = new HashMap<>();
        for (Service service : services.values()) {
            if (service.getSpec() != null && service.getSpec().getClusterIP() != null && !"None".equals(service.getSpec().getClusterIP())) {
                byClusterIp.put(service.getSpec().getClusterIP(), service);
            }
        }
        this.servicesByClusterIp = Map.copyOf(byClusterIp);
    }

    public long generation() {
        return generation;
    }

    public Optional<Service> service(ObjectKey key) {
        return Optional.ofNullable(services.get(key));
    }

    public Collection<Service> services() {
        return services.values();
    }

    /** The EndpointSlices of a Service, by their label, in name order. */
    public List<EndpointSlice> endpointSlices(ObjectKey service) {
        return slicesByService.getOrDefault(service, List.of());
    }

    public Optional<Pod> pod(ObjectKey key) {
        return Optional.ofNullable(pods.get(key));
    }

    public Collection<Pod> pods() {
        return pods.values();
    }

    /** The pod with this IP (host-network pods excluded: their IP is the node's). */
    public Optional<Pod> podByIp(String ip) {
        return Optional.ofNullable(podsByIp.get(ip));
    }

    public Optional<Service> serviceByClusterIp(String ip) {
        return Optional.ofNullable(servicesByClusterIp.get(ip));
    }

    public Optional<Namespace> namespace(String name) {
        return Optional.ofNullable(namespaces.get(name));
    }

    public Optional<ServiceAccount> serviceAccount(ObjectKey key) {
        return Optional.ofNullable(serviceAccounts.get(key));
    }

    public Collection<PolicyResources.Server> servers() {
        return servers.values();
    }

    public Collection<PolicyResources.AuthorizationPolicy> authorizationPolicies() {
        return authorizationPolicies.values();
    }

    public Optional<PolicyResources.MeshTlsAuthentication> meshTlsAuthentication(ObjectKey key) {
        return Optional.ofNullable(meshTlsAuthentications.get(key));
    }

    public Optional<PolicyResources.NetworkAuthentication> networkAuthentication(ObjectKey key) {
        return Optional.ofNullable(networkAuthentications.get(key));
    }

    public Collection<PolicyResources.HttpRoute> httpRoutes() {
        return httpRoutes.values();
    }

    public Collection<PolicyResources.EgressPolicy> egressPolicies() {
        return egressPolicies.values();
    }

    public Collection<PolicyResources.RateLimitPolicy> rateLimitPolicies() {
        return rateLimitPolicies.values();
    }

    /** Gateway API routes (HTTPRoute, GRPCRoute) with a Service parent that the mesh can carry out. */
    public Collection<MeshRoute> meshRoutes() {
        return meshRoutes.values();
    }

    /** Gateway API routes with a Service parent that the mesh cannot carry out, each with its reason. */
    public Collection<GatewayRoutes.Parsed.Rejected> rejectedRoutes() {
        return rejectedRoutes.values();
    }

    /** Resources left out because they are invalid, each message naming the resource and field. */
    public List<String> problems() {
        return problems;
    }

    /** Counts per kind, for metrics and logs. */
    public Map<String, Integer> sizes() {
        Map<String, Integer> sizes = new TreeMap<>();
        sizes.put("services", services.size());
        sizes.put("endpointslices", endpointSlices.size());
        sizes.put("pods", pods.size());
        sizes.put("namespaces", namespaces.size());
        sizes.put("serviceaccounts", serviceAccounts.size());
        sizes.put("policies", servers.size() + authorizationPolicies.size() + meshTlsAuthentications.size() + networkAuthentications.size()
                + httpRoutes.size() + egressPolicies.size() + rateLimitPolicies.size());
        sizes.put("routes", meshRoutes.size() + rejectedRoutes.size());
        return sizes;
    }

    /** Collects objects of any supported kind; others are ignored. Not thread-safe. */
    public static final class Builder {
        private final Map<ObjectKey, Service> services = new HashMap<>();
        private final Map<ObjectKey, EndpointSlice> endpointSlices = new HashMap<>();
        private final Map<ObjectKey, Pod> pods = new HashMap<>();
        private final Map<String, Namespace> namespaces = new HashMap<>();
        private final Map<ObjectKey, ServiceAccount> serviceAccounts = new HashMap<>();
        private final Map<ObjectKey, PolicyResources.Server> servers = new HashMap<>();
        private final Map<ObjectKey, PolicyResources.AuthorizationPolicy> authorizationPolicies = new HashMap<>();
        private final Map<ObjectKey, PolicyResources.MeshTlsAuthentication> meshTlsAuthentications = new HashMap<>();
        private final Map<ObjectKey, PolicyResources.NetworkAuthentication> networkAuthentications = new HashMap<>();
        private final Map<ObjectKey, PolicyResources.HttpRoute> httpRoutes = new HashMap<>();
        private final Map<ObjectKey, PolicyResources.EgressPolicy> egressPolicies = new HashMap<>();
        private final Map<ObjectKey, PolicyResources.RateLimitPolicy> rateLimitPolicies = new HashMap<>();
        private final Map<MeshRoute.RouteKey, MeshRoute> meshRoutes = new HashMap<>();
        private final Map<MeshRoute.RouteKey, GatewayRoutes.Parsed.Rejected> rejectedRoutes = new HashMap<>();
        private final List<String> problems = new ArrayList<>();

        /** Adds {@code object}; an invalid policy resource is recorded as a problem instead. */
        public Builder add(HasMetadata object) {
            if (object.getMetadata() == null || object.getMetadata().getName() == null) {
                problems.add(object.getKind() + " without metadata.name");
                return this;
            }
            switch (object) {
                case Service s -> services.put(ObjectKey.of(s), s);
                case EndpointSlice s -> endpointSlices.put(ObjectKey.of(s), s);
                case Pod p -> pods.put(ObjectKey.of(p), p);
                case Namespace n -> namespaces.put(n.getMetadata().getName(), n);
                case ServiceAccount a -> serviceAccounts.put(ObjectKey.of(a), a);
                case GenericKubernetesResource g when PolicyParser.isPolicy(g) -> addPolicy(g);
                case HTTPRoute r -> addRoute(GatewayRoutes.parse(r));
                case GRPCRoute r -> addRoute(GatewayRoutes.parse(r));
                case io.fabric8.kubernetes.api.model.gatewayapi.v1alpha2.TCPRoute r -> addRoute(GatewayRoutes.parse(r));
                case HasMetadata o when GatewayRoutes.isUnreadRouteVersion(o) -> problems.add(o.getKind() + " " + ObjectKey.of(o) + ": "
                        + o.getApiVersion() + " is not read; write it as " + GatewayRoutes.GROUP + "/"
                        + ("TCPRoute".equals(o.getKind()) ? GatewayRoutes.TCP_ROUTE_VERSION : GatewayRoutes.VERSION));
                default -> { }
            }
            return this;
        }

        private void addPolicy(GenericKubernetesResource resource) {
            try {
                switch (PolicyParser.parse(resource)) {
                    case PolicyResources.Server s -> servers.put(s.id(), s);
                    case PolicyResources.AuthorizationPolicy p -> authorizationPolicies.put(p.id(), p);
                    case PolicyResources.MeshTlsAuthentication m -> meshTlsAuthentications.put(m.id(), m);
                    case PolicyResources.NetworkAuthentication n -> networkAuthentications.put(n.id(), n);
                    case PolicyResources.HttpRoute r -> httpRoutes.put(r.id(), r);
                    case PolicyResources.EgressPolicy e -> egressPolicies.put(e.id(), e);
                    case PolicyResources.RateLimitPolicy r -> rateLimitPolicies.put(r.id(), r);
                    default -> throw new IllegalStateException("unexpected policy record");
                }
            } catch (InvalidResourceException e) {
                problems.add(e.getMessage());
            }
        }

        private void addRoute(GatewayRoutes.Parsed parsed) {
            switch (parsed) {
                case GatewayRoutes.Parsed.Accepted accepted -> meshRoutes.put(accepted.route().key(), accepted.route());
                case GatewayRoutes.Parsed.Rejected rejected -> {
                    rejectedRoutes.put(rejected.key(), rejected);
                    problems.add(rejected.message());
                }
                case GatewayRoutes.Parsed.NotMesh ignored -> { }
            }
        }

        public Builder problem(String problem) {
            problems.add(problem);
            return this;
        }

        public ClusterSnapshot build(long generation) {
            return new ClusterSnapshot(this, generation);
        }
    }
}
