package dev.trellis.proxy.policy;

import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.wire.policy.Authorization.MeshTls;
import dev.trellis.wire.policy.Authorization.Network;
import dev.trellis.wire.policy.Authorization;
import dev.trellis.wire.policy.HttpRoute;
import dev.trellis.wire.policy.InboundServer;
import java.net.InetAddress;
import java.util.Optional;

/**
 * Decides whether a caller may use an inbound port, by the port's {@link InboundServer}
 * policy. A connection (TCP) needs one of the server's authorizations; an HTTP request needs
 * one of the server's, or one of the first route its method and path match. Pure.
 */
public final class InboundAuthorizer {

    private InboundAuthorizer() {
    }

    /** The outcome: allowed or not, the server's name and, when allowed, the authorization's. */
    public record Decision(boolean allowed, String server, String authorization, boolean audit) {
        static Decision allow(InboundServer policy, Authorization by) {
            return new Decision(true, name(policy), by.label("name"), isAudit(policy));
        }

        static Decision deny(InboundServer policy) {
            return new Decision(false, name(policy), "", isAudit(policy));
        }
    }

    /** A request's method and path, for route matching. */
    public record Request(String method, String path) {}

    /** Who is asking: the verified mesh identity (if any), the address, and the trust domain "any identity" means. */
    record Caller(Optional<WorkloadIdentity> identity, InetAddress source, String localTrustDomain) {}

    static Decision connection(InboundServer policy, Caller caller, CidrCache cidrs) {
        return first(policy.authorizations(), caller, cidrs).map(a -> Decision.allow(policy, a)).orElseGet(() -> Decision.deny(policy));
    }

    static Decision request(InboundServer policy, Caller caller, Request request, CidrCache cidrs) {
        Optional<Authorization> byServer = first(policy.authorizations(), caller, cidrs);
        if (byServer.isPresent()) {
            return Decision.allow(policy, byServer.get());
        }
        for (HttpRoute route : policy.routes()) {
            if (route.matches().stream().anyMatch(m -> matches(m, request))) {
                return first(route.authorizations(), caller, cidrs).map(a -> Decision.allow(policy, a))
                        .orElseGet(() -> Decision.deny(policy));
            }
        }
        return Decision.deny(policy);
    }

    private static Optional<Authorization> first(java.util.List<Authorization> authorizations, Caller caller, CidrCache cidrs) {
        return authorizations.stream().filter(a -> permits(a, caller, cidrs)).findFirst();
    }

    static boolean permits(Authorization authorization, Caller caller, CidrCache cidrs) {
        if (!authorization.networks().isEmpty() && authorization.networks().stream().noneMatch(n -> inNetwork(n, caller.source(), cidrs))) {
            return false;
        }
        return switch (authorization.authentication()) {
            case Authorization.Unauthenticated anyone -> true;
            case MeshTls meshTls -> caller.identity().isPresent() && meshTlsAdmits(meshTls, caller.identity().get(), caller.localTrustDomain());
            case Authorization.NotSet nobody -> false;
        };
    }

    /** Whole identities only, trust domain included; "any" means anyone of the local trust domain. */
    private static boolean meshTlsAdmits(MeshTls meshTls, WorkloadIdentity client, String localTrustDomain) {
        if (meshTls.any() && IdentityPattern.anyIn(localTrustDomain).matches(client)) {
            return true;
        }
        for (String identity : meshTls.identities()) {
            if (parsed(identity, localTrustDomain).filter(p -> p instanceof IdentityPattern.Exactly).map(p -> p.matches(client)).orElse(false)) {
                return true;
            }
        }
        return meshTls.patterns().stream().anyMatch(pattern -> parsed(pattern, localTrustDomain).map(p -> p.matches(client)).orElse(false));
    }

    /** A pattern from the destination service; one that does not parse admits nobody (fail closed). */
    private static Optional<IdentityPattern> parsed(String text, String localTrustDomain) {
        try {
            return Optional.of(IdentityPattern.parse(text, localTrustDomain));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static boolean inNetwork(Network network, InetAddress source, CidrCache cidrs) {
        boolean inside = cidrs.get(network.cidr()).map(c -> c.contains(source)).orElse(false);
        return inside && network.except().stream().map(cidrs::get).flatMap(Optional::stream).noneMatch(c -> c.contains(source));
    }

    private static boolean matches(HttpRoute.Match match, Request request) {
        if (!match.method().isEmpty() && !match.method().equalsIgnoreCase(request.method())) {
            return false;
        }
        String path = pathOnly(request.path());
        if (!match.pathExact().isEmpty()) {
            return path.equals(match.pathExact());
        }
        return match.pathPrefix().isEmpty() || path.startsWith(match.pathPrefix());
    }

    public static String pathOnly(String uri) {
        int query = uri.indexOf('?');
        return query < 0 ? uri : uri.substring(0, query);
    }

    private static String name(InboundServer policy) {
        return policy.label("name");
    }

    private static boolean isAudit(InboundServer policy) {
        return "audit".equals(policy.label("mode"));
    }
}
