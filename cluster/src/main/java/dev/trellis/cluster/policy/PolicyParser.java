package dev.trellis.cluster.policy;

import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.Selector;
import dev.trellis.cluster.policy.PolicyResources.AuthenticationRef;
import dev.trellis.cluster.policy.PolicyResources.AuthorizationPolicy;
import dev.trellis.cluster.policy.PolicyResources.EgressMode;
import dev.trellis.cluster.policy.PolicyResources.EgressPolicy;
import dev.trellis.cluster.policy.PolicyResources.EgressRule;
import dev.trellis.cluster.policy.PolicyResources.HttpRoute;
import dev.trellis.cluster.policy.PolicyResources.MeshTlsAuthentication;
import dev.trellis.cluster.policy.PolicyResources.Network;
import dev.trellis.cluster.policy.PolicyResources.NetworkAuthentication;
import dev.trellis.cluster.policy.PolicyResources.PathMatch;
import dev.trellis.cluster.policy.PolicyResources.PortRef;
import dev.trellis.cluster.policy.PolicyResources.Protocol;
import dev.trellis.cluster.policy.PolicyResources.RateLimitOverride;
import dev.trellis.cluster.policy.PolicyResources.RateLimitPolicy;
import dev.trellis.cluster.policy.PolicyResources.RouteMatch;
import dev.trellis.cluster.policy.PolicyResources.RouteRule;
import dev.trellis.cluster.policy.PolicyResources.Server;
import dev.trellis.cluster.policy.PolicyResources.TargetRef;
import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.time.DurationText;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Turns a Trellis policy resource (as the API server or a manifest file gives it: a generic
 * resource whose {@code spec} is a tree) into its validated record. Stateless.
 */
public final class PolicyParser {

    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");
    private static final Pattern HOST = Pattern.compile("(\\*\\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern METHOD = Pattern.compile("[A-Z]{1,16}");

    private PolicyParser() {
    }

    /** Whether {@code resource} is one of Trellis's policy kinds (any version of the group). */
    public static boolean isPolicy(GenericKubernetesResource resource) {
        return resource.getApiVersion() != null && resource.getApiVersion().startsWith(PolicyResources.GROUP + "/");
    }

    /**
     * @return one of the records of {@link PolicyResources}
     * @throws InvalidResourceException naming the kind, the object and the field at fault
     */
    public static Object parse(GenericKubernetesResource resource) throws InvalidResourceException {
        String kind = resource.getKind();
        String namespace = resource.getMetadata() == null ? null : resource.getMetadata().getNamespace();
        String name = resource.getMetadata() == null ? null : resource.getMetadata().getName();
        String what = kind + " " + (namespace == null ? "?" : namespace) + "/" + (name == null ? "?" : name);
        if (!PolicyResources.API_VERSION.equals(resource.getApiVersion())) {
            throw new InvalidResourceException(what + ": apiVersion " + resource.getApiVersion() + " is not served; use " + PolicyResources.API_VERSION);
        }
        if (namespace == null || name == null || !NAME.matcher(namespace).matches() || !NAME.matcher(name).matches()) {
            throw new InvalidResourceException(what + ": metadata.namespace and metadata.name must be set and be DNS names");
        }
        ObjectKey id = new ObjectKey(namespace, name);
        try {
            new Fields(resource.getAdditionalProperties(), "").only("spec");
            Fields spec = Fields.of(resource.getAdditionalProperties().get("spec"), "spec");
            return switch (kind) {
                case "Server" -> server(id, spec);
                case "AuthorizationPolicy" -> authorizationPolicy(id, spec);
                case "MeshTLSAuthentication" -> meshTls(id, spec);
                case "NetworkAuthentication" -> networkAuthentication(id, spec);
                case "HTTPRoute" -> httpRoute(id, spec);
                case "EgressPolicy" -> egressPolicy(id, spec);
                case "RateLimitPolicy" -> rateLimitPolicy(id, spec);
                default -> throw new InvalidResourceException("kind is not one of " + PolicyResources.KINDS);
            };
        } catch (InvalidResourceException e) {
            throw new InvalidResourceException(what + ": " + e.getMessage());
        }
    }

    private static Server server(ObjectKey id, Fields spec) throws InvalidResourceException {
        spec.only("podSelector", "port", "protocol", "accessPolicy");
        Selector selector = selector(spec.object("podSelector"));
        PortRef portRef;
        if (spec.isNumber("port")) {
            portRef = new PortRef(spec.optInt("port", 1, 65535), Optional.empty());
        } else {
            String named = spec.string("port");
            if (!NAME.matcher(named).matches() || named.length() > 15) {
                throw new InvalidResourceException(spec.at("port") + ": '" + named + "' is neither a port number (1-65535) nor a container port name");
            }
            portRef = new PortRef(Optional.empty(), Optional.of(named));
        }
        Protocol protocol = Protocol.DETECT;
        Optional<String> text = spec.optString("protocol");
        if (text.isPresent()) {
            protocol = switch (text.get().toLowerCase(Locale.ROOT)) {
                case "detect" -> Protocol.DETECT;
                case "http1", "http/1" -> Protocol.HTTP1;
                case "http2", "http/2" -> Protocol.HTTP2;
                case "grpc" -> Protocol.GRPC;
                case "opaque" -> Protocol.OPAQUE;
                default -> throw new InvalidResourceException(spec.at("protocol") + ": '" + text.get() + "' is not one of detect, http1, http2, grpc, opaque");
            };
        }
        String access = spec.optString("accessPolicy").orElse("deny");
        PolicyResources.AccessPolicy accessPolicy = switch (access) {
            case "deny" -> PolicyResources.AccessPolicy.DENY;
            case "audit" -> PolicyResources.AccessPolicy.AUDIT;
            default -> throw new InvalidResourceException(spec.at("accessPolicy") + ": '" + access + "' is not deny or audit");
        };
        return new Server(id, selector, portRef, protocol, accessPolicy);
    }

    private static AuthorizationPolicy authorizationPolicy(ObjectKey id, Fields spec) throws InvalidResourceException {
        spec.only("targetRef", "requiredAuthenticationRefs");
        Fields target = spec.object("targetRef").only("kind", "name");
        String kind = target.string("kind");
        if (!List.of("Server", "Namespace", "HTTPRoute").contains(kind)) {
            throw new InvalidResourceException(target.at("kind") + ": '" + kind + "' is not one of Server, Namespace, HTTPRoute");
        }
        List<AuthenticationRef> refs = new ArrayList<>();
        for (Fields ref : spec.objects("requiredAuthenticationRefs")) {
            ref.only("kind", "name", "namespace");
            String refKind = ref.string("kind");
            if (!List.of("MeshTLSAuthentication", "NetworkAuthentication").contains(refKind)) {
                throw new InvalidResourceException(ref.at("kind") + ": '" + refKind + "' is not one of MeshTLSAuthentication, NetworkAuthentication");
            }
            refs.add(new AuthenticationRef(refKind, ref.string("name"), ref.optString("namespace")));
        }
        return new AuthorizationPolicy(id, new TargetRef(kind, target.string("name")), refs);
    }

    private static MeshTlsAuthentication meshTls(ObjectKey id, Fields spec) throws InvalidResourceException {
        spec.only("identities", "identityRefs");
        List<String> identities = spec.strings("identities");
        for (int i = 0; i < identities.size(); i++) {
            String identity = identities.get(i);
            try {
                // "*" depends on the reader's trust domain; any domain checks the written form
                IdentityPattern.parse(identity, "cluster.local");
            } catch (IllegalArgumentException e) {
                throw new InvalidResourceException(spec.at("identities") + "[" + i + "]: " + e.getMessage());
            }
        }
        List<ObjectKey> accounts = new ArrayList<>();
        for (Fields ref : spec.objects("identityRefs")) {
            ref.only("kind", "name", "namespace");
            String kind = ref.string("kind");
            if (!kind.equals("ServiceAccount")) {
                throw new InvalidResourceException(ref.at("kind") + ": only ServiceAccount is supported");
            }
            accounts.add(new ObjectKey(ref.optString("namespace").orElse(id.namespace()), ref.string("name")));
        }
        if (identities.isEmpty() && accounts.isEmpty()) {
            throw new InvalidResourceException("spec: needs identities or identityRefs");
        }
        return new MeshTlsAuthentication(id, identities, accounts);
    }

    private static NetworkAuthentication networkAuthentication(ObjectKey id, Fields spec) throws InvalidResourceException {
        spec.only("networks");
        List<Network> networks = new ArrayList<>();
        for (Fields network : spec.objects("networks")) {
            network.only("cidr", "except");
            String cidr = cidr(network.string("cidr"), network.at("cidr"));
            List<String> except = new ArrayList<>();
            for (String e : network.strings("except")) {
                except.add(cidr(e, network.at("except")));
            }
            networks.add(new Network(cidr, except));
        }
        if (networks.isEmpty()) {
            throw new InvalidResourceException("spec.networks: needs at least one network");
        }
        return new NetworkAuthentication(id, networks);
    }

    private static HttpRoute httpRoute(ObjectKey id, Fields spec) throws InvalidResourceException {
        spec.only("parentRefs", "rules");
        List<Fields> parents = spec.objects("parentRefs");
        if (parents.size() != 1) {
            throw new InvalidResourceException("spec.parentRefs: needs exactly one parent (a Service or a Server)");
        }
        Fields parent = parents.getFirst().only("kind", "name", "port");
        String parentKind = parent.optString("kind").orElse("Service");
        if (!parentKind.equals("Service") && !parentKind.equals("Server")) {
            throw new InvalidResourceException(parent.at("kind") + ": '" + parentKind + "' is not Service or Server");
        }
        List<RouteRule> rules = new ArrayList<>();
        List<Fields> ruleFields = spec.objects("rules");
        for (int r = 0; r < ruleFields.size(); r++) {
            Fields rule = ruleFields.get(r).only("name", "matches", "timeout", "retryable");
            List<RouteMatch> matches = new ArrayList<>();
            for (Fields match : rule.objects("matches")) {
                match.only("path", "method");
                PathMatch type = PathMatch.PREFIX;
                String path = "/";
                Optional<Fields> pathFields = match.optObject("path");
                if (pathFields.isPresent()) {
                    pathFields.get().only("type", "value");
                    String typeText = pathFields.get().optString("type").orElse("PathPrefix");
                    type = switch (typeText) {
                        case "Exact" -> PathMatch.EXACT;
                        case "PathPrefix" -> PathMatch.PREFIX;
                        default -> throw new InvalidResourceException(pathFields.get().at("type") + ": '" + typeText + "' is not Exact or PathPrefix");
                    };
                    path = pathFields.get().string("value");
                    if (!path.startsWith("/")) {
                        throw new InvalidResourceException(pathFields.get().at("value") + ": must start with /");
                    }
                }
                Optional<String> method = match.optString("method");
                if (method.isPresent() && !METHOD.matcher(method.get()).matches()) {
                    throw new InvalidResourceException(match.at("method") + ": '" + method.get() + "' is not an HTTP method");
                }
                matches.add(new RouteMatch(type, path, method));
            }
            if (matches.isEmpty()) {
                matches.add(new RouteMatch(PathMatch.PREFIX, "/", Optional.empty()));
            }
            Optional<java.time.Duration> timeout = Optional.empty();
            Optional<String> timeoutText = rule.optString("timeout");
            if (timeoutText.isPresent()) {
                try {
                    timeout = Optional.of(DurationText.parse(timeoutText.get()));
                } catch (IllegalArgumentException e) {
                    throw new InvalidResourceException(rule.at("timeout") + ": " + e.getMessage());
                }
            }
            rules.add(new RouteRule(rule.optString("name").orElse("rule-" + r), matches, timeout, rule.bool("retryable", false)));
        }
        return new HttpRoute(id, parentKind, parent.string("name"), parent.optInt("port", 1, 65535), rules);
    }

    private static EgressPolicy egressPolicy(ObjectKey id, Fields spec) throws InvalidResourceException {
        spec.only("podSelector", "mode", "allow", "deny");
        Selector selector = spec.optObject("podSelector").isPresent() ? selector(spec.object("podSelector")) : Selector.ALL;
        String modeText = spec.optString("mode").orElse("allow");
        EgressMode mode = switch (modeText.toLowerCase(Locale.ROOT)) {
            case "allow" -> EgressMode.ALLOW;
            case "deny" -> EgressMode.DENY;
            case "audit" -> EgressMode.AUDIT;
            default -> throw new InvalidResourceException(spec.at("mode") + ": '" + modeText + "' is not one of allow, deny, audit");
        };
        return new EgressPolicy(id, selector, mode, egressRules(spec, "allow"), egressRules(spec, "deny"));
    }

    private static List<EgressRule> egressRules(Fields spec, String key) throws InvalidResourceException {
        List<EgressRule> rules = new ArrayList<>();
        for (Fields rule : spec.objects(key)) {
            rule.only("host", "cidr", "ports");
            Optional<String> host = rule.optString("host").map(h -> h.toLowerCase(Locale.ROOT));
            Optional<String> cidr = rule.optString("cidr");
            if (host.isPresent() == cidr.isPresent()) {
                throw new InvalidResourceException(rule.at("host") + ": give exactly one of host and cidr");
            }
            if (host.isPresent() && !HOST.matcher(host.get()).matches()) {
                throw new InvalidResourceException(rule.at("host") + ": '" + host.get() + "' is not a host name (a leading *. matches subdomains)");
            }
            if (cidr.isPresent()) {
                cidr(cidr.get(), rule.at("cidr"));
            }
            rules.add(new EgressRule(host, cidr, new HashSet<>(rule.ints("ports", 1, 65535))));
        }
        return rules;
    }

    private static RateLimitPolicy rateLimitPolicy(ObjectKey id, Fields spec) throws InvalidResourceException {
        spec.only("targetRef", "totalRequestsPerSecond", "identityRequestsPerSecond", "overrides");
        Fields target = spec.object("targetRef").only("kind", "name");
        if (!target.optString("kind").orElse("Server").equals("Server")) {
            throw new InvalidResourceException(target.at("kind") + ": only Server is supported");
        }
        List<RateLimitOverride> overrides = new ArrayList<>();
        for (Fields override : spec.objects("overrides")) {
            override.only("identities", "requestsPerSecond");
            List<String> identities = override.strings("identities");
            if (identities.isEmpty()) {
                throw new InvalidResourceException(override.at("identities") + ": needs at least one identity");
            }
            overrides.add(new RateLimitOverride(identities, override.optInt("requestsPerSecond", 1, 1_000_000)
                    .orElseThrow(() -> new InvalidResourceException(override.at("requestsPerSecond") + ": is required"))));
        }
        int total = spec.optInt("totalRequestsPerSecond", 0, 1_000_000).orElse(0);
        int perIdentity = spec.optInt("identityRequestsPerSecond", 0, 1_000_000).orElse(0);
        if (total == 0 && perIdentity == 0 && overrides.isEmpty()) {
            throw new InvalidResourceException("spec: sets no limit (totalRequestsPerSecond, identityRequestsPerSecond or overrides)");
        }
        return new RateLimitPolicy(id, target.string("name"), total, perIdentity, overrides);
    }

    private static Selector selector(Fields fields) throws InvalidResourceException {
        fields.only("matchLabels", "matchExpressions");
        Map<String, String> labels = fields.stringMap("matchLabels");
        List<Selector.Expression> expressions = new ArrayList<>();
        for (Fields expression : fields.objects("matchExpressions")) {
            expression.only("key", "operator", "values");
            Selector.Operator operator;
            try {
                operator = Selector.Operator.parse(expression.string("operator"));
            } catch (IllegalArgumentException e) {
                throw new InvalidResourceException(expression.at("operator") + ": " + e.getMessage());
            }
            expressions.add(new Selector.Expression(expression.string("key"), operator, new HashSet<>(expression.strings("values"))));
        }
        return new Selector(labels, expressions);
    }

    /** Validates {@code a.b.c.d/n} or an IPv6 CIDR, returning it as given. */
    static String cidr(String text, String where) throws InvalidResourceException {
        int slash = text.indexOf('/');
        try {
            if (slash < 0) {
                throw new IllegalArgumentException();
            }
            String address = text.substring(0, slash);
            if (!address.matches("[0-9a-fA-F:.]+")) {
                throw new IllegalArgumentException();
            }
            byte[] bytes = InetAddress.getByName(address).getAddress();
            int bits = Integer.parseInt(text.substring(slash + 1));
            if (bits < 0 || bits > bytes.length * 8) {
                throw new IllegalArgumentException();
            }
            return text;
        } catch (Exception e) {
            throw new InvalidResourceException(where + ": '" + text + "' is not a CIDR such as 10.0.0.0/8");
        }
    }
}
