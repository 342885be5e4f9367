package dev.trellis.cluster.policy;

import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.Selector;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The validated content of Trellis's policy resources, one record per kind, all in API group
 * {@value #GROUP}, version {@value #VERSION}. Reference: docs/crds.md.
 */
public final class PolicyResources {

    public static final String GROUP = "policy.trellis.dev";
    public static final String VERSION = "v1alpha1";
    public static final String API_VERSION = GROUP + "/" + VERSION;
    /** The kinds, in the order their CRDs are defined. */
    public static final List<String> KINDS = List.of("Server", "AuthorizationPolicy", "MeshTLSAuthentication", "NetworkAuthentication",
            "HTTPRoute", "EgressPolicy", "RateLimitPolicy");

    private PolicyResources() {
    }

    /** The protocol a Server's port speaks; {@code DETECT} lets the proxy find out. */
    public enum Protocol { DETECT, HTTP1, HTTP2, GRPC, OPAQUE }

    /** A port of the pods a selector picks, by number or by container port name. */
    public record PortRef(Optional<Integer> number, Optional<String> name) {
        public boolean matches(int port, Map<String, Integer> namedPorts) {
            return number.map(n -> n == port).orElseGet(() -> name.map(namedPorts::get).map(p -> p == port).orElse(false));
        }

        @Override
        public String toString() {
            return number.map(String::valueOf).orElseGet(name::orElseThrow);
        }
    }

    /** What a Server does with a caller no authorization admits: refuse it, or let it through and record it (audit). */
    public enum AccessPolicy { DENY, AUDIT }

    /** Pods by label, and one of their ports. */
    public record Server(ObjectKey id, Selector podSelector, PortRef port, Protocol protocol, AccessPolicy accessPolicy) {
        public Server(ObjectKey id, Selector podSelector, PortRef port, Protocol protocol) {
            this(id, podSelector, port, protocol, AccessPolicy.DENY);
        }
    }

    /** What an AuthorizationPolicy applies to. */
    public record TargetRef(String kind, String name) {}

    /** A reference to an authentication resource, in the policy's namespace unless given. */
    public record AuthenticationRef(String kind, String name, Optional<String> namespace) {}

    /** Callers that present all {@code requiredAuthentications} may use {@code target}. */
    public record AuthorizationPolicy(ObjectKey id, TargetRef target, List<AuthenticationRef> requiredAuthentications) {}

    /** Mesh identities: exact SPIFFE IDs or {@code *} (any), and service accounts. */
    public record MeshTlsAuthentication(ObjectKey id, List<String> identities, List<ObjectKey> serviceAccounts) {}

    public record Network(String cidr, List<String> except) {}

    /** Source networks. */
    public record NetworkAuthentication(ObjectKey id, List<Network> networks) {}

    public enum PathMatch { EXACT, PREFIX }

    public record RouteMatch(PathMatch pathMatch, String path, Optional<String> method) {}

    /** One rule of an HTTPRoute: matches, a timeout, whether retryable, and the name metrics use. */
    public record RouteRule(String name, List<RouteMatch> matches, Optional<Duration> timeout, boolean retryable) {}

    /** Routes of a Service port ({@code parentKind} Service) or of a Server ({@code parentKind} Server). */
    public record HttpRoute(ObjectKey id, String parentKind, String parentName, Optional<Integer> parentPort, List<RouteRule> rules) {}

    public enum EgressMode { ALLOW, DENY, AUDIT }

    /** A destination: a host name ({@code *.} prefix for subdomains) or a CIDR, and ports (empty: any). */
    public record EgressRule(Optional<String> host, Optional<String> cidr, Set<Integer> ports) {}

    /** For the pods a selector picks in its namespace: which destinations they may reach. */
    public record EgressPolicy(ObjectKey id, Selector podSelector, EgressMode mode, List<EgressRule> allow, List<EgressRule> deny) {}

    public record RateLimitOverride(List<String> identities, int requestsPerSecond) {}

    /** Inbound requests per second for a Server: in total and per client identity (0: unlimited). */
    public record RateLimitPolicy(ObjectKey id, String serverName, int totalRps, int identityRps, List<RateLimitOverride> overrides) {}
}
