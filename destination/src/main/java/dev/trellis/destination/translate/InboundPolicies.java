package dev.trellis.destination.translate;

import dev.trellis.core.settings.DefaultInboundPolicy;
import dev.trellis.api.policy.v1.Authorization;
import dev.trellis.api.policy.v1.HttpRoute;
import dev.trellis.api.policy.v1.HttpRouteMatch;
import dev.trellis.api.policy.v1.InboundServer;
import dev.trellis.api.policy.v1.MeshTls;
import dev.trellis.api.policy.v1.Network;
import dev.trellis.api.policy.v1.RateLimit;
import dev.trellis.api.policy.v1.RateLimitOverride;
import dev.trellis.api.policy.v1.Unauthenticated;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.policy.PolicyResources;
import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Probe;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The inbound policy of one pod port: the Server that covers it (the first by name when
 * several do) with the AuthorizationPolicies, HTTPRoutes and RateLimitPolicy that target it,
 * or the default policy. Kubelet probe paths on the port are always allowed. Pure.
 */
public final class InboundPolicies {

    private InboundPolicies() {
    }

    /** The annotation (on the pod, else its namespace) that sets the default policy for one workload, as the injector passes it on. */
    public static final String DEFAULT_POLICY_ANNOTATION = dev.trellis.core.metadata.MetadataKeys.DEFAULT_INBOUND_POLICY;

    public static InboundServer of(ClusterSnapshot snapshot, Pod pod, int port, DefaultInboundPolicy clusterDefault, List<String> clusterNetworks,
                                   String trustDomain) {
        String namespace = pod.getMetadata().getNamespace();
        DefaultInboundPolicy defaults = annotatedDefault(snapshot, pod).orElse(clusterDefault);
        Map<String, Integer> named = namedPorts(pod);
        Optional<PolicyResources.Server> server = snapshot.servers().stream()
                .filter(s -> s.id().namespace().equals(namespace))
                .filter(s -> s.podSelector().matches(pod.getMetadata().getLabels()) && s.port().matches(port, named))
                .min(Comparator.comparing(PolicyResources.Server::id));
        InboundServer.Builder out = InboundServer.newBuilder();
        if (server.isEmpty()) {
            out.putLabels("kind", "default").putLabels("name", defaults.toString());
            if (dev.trellis.cluster.Workloads.portList(pod, dev.trellis.cluster.Workloads.OPAQUE_PORTS).contains(port)) {
                // The pod says so: its proxy must pass redirected traffic on without waiting for a first byte.
                out.setProtocol(InboundServer.Protocol.OPAQUE);
            }
            switch (defaults) {
                // Audit: nothing is authorized, so every caller is a would-be refusal, let through and recorded.
                case AUDIT -> { }
                case ALL_UNAUTHENTICATED -> out.addAuthorizations(Authorization.newBuilder()
                        .setUnauthenticated(Unauthenticated.getDefaultInstance()).putLabels("kind", "default").putLabels("name", defaults.toString()));
                case ALL_AUTHENTICATED -> out.addAuthorizations(Authorization.newBuilder()
                        .setMeshTls(MeshTls.newBuilder().setAny(true)).putLabels("kind", "default").putLabels("name", defaults.toString()));
                case CLUSTER_AUTHENTICATED -> out.addAuthorizations(Authorization.newBuilder()
                        .setMeshTls(MeshTls.newBuilder().setAny(true))
                        .addAllNetworks(clusterNetworks.stream().map(c -> Network.newBuilder().setCidr(c).build()).toList())
                        .putLabels("kind", "default").putLabels("name", defaults.toString()));
                case DENY -> { }
            }
            if (defaults == DefaultInboundPolicy.AUDIT) {
                out.putLabels("mode", "audit");
            }
            probeRoute(pod, port).ifPresent(out::addRoutes);
            return out.build();
        }
        PolicyResources.Server s = server.get();
        out.setProtocol(switch (s.protocol()) {
            case DETECT -> InboundServer.Protocol.DETECT;
            case HTTP1 -> InboundServer.Protocol.HTTP1;
            case HTTP2 -> InboundServer.Protocol.HTTP2;
            case GRPC -> InboundServer.Protocol.GRPC;
            case OPAQUE -> InboundServer.Protocol.OPAQUE;
        });
        out.putLabels("kind", "server").putLabels("name", s.id().name());
        if (s.accessPolicy() == PolicyResources.AccessPolicy.AUDIT) {
            out.putLabels("mode", "audit");
        }
        for (PolicyResources.AuthorizationPolicy policy : sorted(snapshot.authorizationPolicies())) {
            if (!policy.id().namespace().equals(namespace)) {
                continue;
            }
            boolean targetsServer = policy.target().kind().equals("Server") && policy.target().name().equals(s.id().name());
            boolean targetsNamespace = policy.target().kind().equals("Namespace") && policy.target().name().equals(namespace);
            if (targetsServer || targetsNamespace) {
                authorization(snapshot, policy, trustDomain).ifPresent(out::addAuthorizations);
            }
        }
        for (PolicyResources.HttpRoute route : snapshot.httpRoutes().stream().sorted(Comparator.comparing(PolicyResources.HttpRoute::id)).toList()) {
            if (!route.id().namespace().equals(namespace) || !route.parentKind().equals("Server") || !route.parentName().equals(s.id().name())) {
                continue;
            }
            HttpRoute.Builder r = HttpRoute.newBuilder().setName(route.id().name());
            for (PolicyResources.RouteRule rule : route.rules()) {
                for (PolicyResources.RouteMatch match : rule.matches()) {
                    HttpRouteMatch.Builder m = HttpRouteMatch.newBuilder().setMethod(match.method().orElse(""));
                    if (match.pathMatch() == PolicyResources.PathMatch.EXACT) {
                        m.setPathExact(match.path());
                    } else {
                        m.setPathPrefix(match.path());
                    }
                    r.addMatches(m);
                }
            }
            for (PolicyResources.AuthorizationPolicy policy : sorted(snapshot.authorizationPolicies())) {
                if (policy.id().namespace().equals(namespace) && policy.target().kind().equals("HTTPRoute") && policy.target().name().equals(route.id().name())) {
                    authorization(snapshot, policy, trustDomain).ifPresent(r::addAuthorizations);
                }
            }
            out.addRoutes(r);
        }
        probeRoute(pod, port).ifPresent(out::addRoutes);
        snapshot.rateLimitPolicies().stream()
                .filter(limit -> limit.id().namespace().equals(namespace) && limit.serverName().equals(s.id().name()))
                .min(Comparator.comparing(PolicyResources.RateLimitPolicy::id))
                .ifPresent(limit -> out.setRateLimit(RateLimit.newBuilder().setTotalRps(limit.totalRps()).setIdentityRps(limit.identityRps())
                        .addAllOverrides(limit.overrides().stream().map(o -> RateLimitOverride.newBuilder()
                                .addAllIdentities(o.identities()).setRps(o.requestsPerSecond()).build()).toList())));
        return out.build();
    }

    private static List<PolicyResources.AuthorizationPolicy> sorted(java.util.Collection<PolicyResources.AuthorizationPolicy> policies) {
        return policies.stream().sorted(Comparator.comparing(PolicyResources.AuthorizationPolicy::id)).toList();
    }

    /**
     * One authorization from a policy: its MeshTLS references become the accepted identities,
     * its Network references the accepted networks. A reference to a missing resource makes the
     * policy authorize nobody (fail closed).
     */
    private static Optional<Authorization> authorization(ClusterSnapshot snapshot, PolicyResources.AuthorizationPolicy policy, String trustDomain) {
        Authorization.Builder out = Authorization.newBuilder().putLabels("kind", "authorizationpolicy").putLabels("name", policy.id().name());
        boolean mesh = false;
        boolean any = false;
        Set<String> identities = new LinkedHashSet<>();
        Set<String> patterns = new LinkedHashSet<>();
        for (PolicyResources.AuthenticationRef ref : policy.requiredAuthentications()) {
            ObjectKey key = new ObjectKey(ref.namespace().orElse(policy.id().namespace()), ref.name());
            if (ref.kind().equals("MeshTLSAuthentication")) {
                Optional<PolicyResources.MeshTlsAuthentication> authn = snapshot.meshTlsAuthentication(key);
                if (authn.isEmpty()) {
                    return Optional.empty();
                }
                mesh = true;
                for (String identity : authn.get().identities()) {
                    if (identity.equals("*")) {
                        any = true;
                    } else if (isPattern(identity, trustDomain)) {
                        patterns.add(identity);
                    } else {
                        identities.add(identity);
                    }
                }
                for (ObjectKey account : authn.get().serviceAccounts()) {
                    identities.add(new WorkloadIdentity(trustDomain, account.namespace(), account.name()).spiffeId());
                }
            } else {
                Optional<PolicyResources.NetworkAuthentication> authn = snapshot.networkAuthentication(key);
                if (authn.isEmpty()) {
                    return Optional.empty();
                }
                for (PolicyResources.Network network : authn.get().networks()) {
                    out.addNetworks(Network.newBuilder().setCidr(network.cidr()).addAllExcept(network.except()));
                }
            }
        }
        if (mesh) {
            out.setMeshTls(any ? MeshTls.newBuilder().setAny(true) : MeshTls.newBuilder().addAllIdentities(identities).addAllPatterns(patterns));
        } else {
            out.setUnauthenticated(Unauthenticated.getDefaultInstance());
        }
        return Optional.of(out.build());
    }

    /**
     * True for the wildcard forms ({@code spiffe://<td>/*}, {@code spiffe://<td>/ns/<ns>/sa/*}),
     * which proxies must match as patterns; the cluster source has already refused text that is
     * neither a pattern nor a SPIFFE ID, and anything else is sent as an exact identity.
     */
    private static boolean isPattern(String identity, String trustDomain) {
        try {
            return !(IdentityPattern.parse(identity, trustDomain) instanceof IdentityPattern.Exactly);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The pod's (or its namespace's) default policy annotation; one that does not parse is ignored (the injector refuses such pods). */
    private static Optional<DefaultInboundPolicy> annotatedDefault(ClusterSnapshot snapshot, Pod pod) {
        Optional<String> value = Optional.ofNullable(pod.getMetadata().getAnnotations()).map(a -> a.get(DEFAULT_POLICY_ANNOTATION))
                .or(() -> snapshot.namespace(pod.getMetadata().getNamespace()).map(n -> n.getMetadata().getAnnotations())
                        .map(a -> a.get(DEFAULT_POLICY_ANNOTATION)));
        try {
            return value.map(DefaultInboundPolicy::parse);
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Kubelet probes (HTTP GET on this port) stay allowed whatever the policy: a pod must be able to become ready. */
    private static Optional<HttpRoute> probeRoute(Pod pod, int port) {
        Map<String, Integer> named = namedPorts(pod);
        Set<String> paths = new LinkedHashSet<>();
        for (Container container : containers(pod)) {
            for (Probe probe : new Probe[] {container.getLivenessProbe(), container.getReadinessProbe(), container.getStartupProbe()}) {
                if (probe == null || probe.getHttpGet() == null || probe.getHttpGet().getPort() == null) {
                    continue;
                }
                var probePort = probe.getHttpGet().getPort();
                Integer number = probePort.getIntVal() != null ? probePort.getIntVal() : named.get(probePort.getStrVal());
                if (number != null && number == port) {
                    paths.add(probe.getHttpGet().getPath() == null ? "/" : probe.getHttpGet().getPath());
                }
            }
        }
        if (paths.isEmpty()) {
            return Optional.empty();
        }
        HttpRoute.Builder route = HttpRoute.newBuilder().setName("probe")
                .addAuthorizations(Authorization.newBuilder().setUnauthenticated(Unauthenticated.getDefaultInstance())
                        .putLabels("kind", "default").putLabels("name", "probe"));
        paths.forEach(path -> route.addMatches(HttpRouteMatch.newBuilder().setPathExact(path).setMethod("GET")));
        return Optional.of(route.build());
    }

    private static List<Container> containers(Pod pod) {
        return pod.getSpec() == null || pod.getSpec().getContainers() == null ? List.of() : pod.getSpec().getContainers();
    }

    static Map<String, Integer> namedPorts(Pod pod) {
        Map<String, Integer> named = new HashMap<>();
        for (Container container : containers(pod)) {
            if (container.getPorts() != null) {
                for (ContainerPort p : container.getPorts()) {
                    if (p.getName() != null && p.getContainerPort() != null) {
                        named.put(p.getName(), p.getContainerPort());
                    }
                }
            }
        }
        return named;
    }

}
