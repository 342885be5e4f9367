package dev.trellis.destination.translate;

import com.google.protobuf.Duration;
import dev.trellis.api.destination.v1.Header;
import dev.trellis.api.destination.v1.HeaderEdit;
import dev.trellis.api.destination.v1.Mirror;
import dev.trellis.api.destination.v1.Redirect;
import dev.trellis.api.destination.v1.RequestFilters;
import dev.trellis.api.destination.v1.RequestMatch;
import dev.trellis.api.destination.v1.Rewrite;
import dev.trellis.api.destination.v1.Route;
import dev.trellis.api.destination.v1.RetryPolicy;
import dev.trellis.api.destination.v1.ValueMatch;
import dev.trellis.api.destination.v1.WeightedBackend;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ObjectKey;
import dev.trellis.cluster.routes.MeshRoute;
import dev.trellis.cluster.routes.MeshRoute.Filter;
import dev.trellis.cluster.routes.MeshRoute.MatchType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The Gateway API routes of one Service port as profile routes, one per (rule, match), in the
 * order the proxy tries them: the Gateway API's precedence (exact path, then the longest
 * prefix, then regular expressions; then a method; then the most headers; then the most query
 * parameters; then the oldest route, then by namespace/name; then rule and match order).
 * Which routes apply: those whose parent is the Service (and the port, when the parent names
 * one); a caller in another namespace that has consumer routes of its own for the Service gets
 * those instead of the Service's own (producer) routes. Pure.
 */
final class GatewayRouteRules {

    private GatewayRouteRules() {
    }

    private record Entry(MeshRoute route, MeshRoute.Rule rule, int matchIndex, MeshRoute.Match match) {}

    /**
     * The routes of {@code requests} kinds (HTTPRoute and GRPCRoute, or TCPRoute) that apply to
     * callers in {@code callerNamespace} of {@code service}'s {@code port}: consumer routes of
     * the caller's namespace when it has any, else the Service's own.
     */
    private static List<MeshRoute> applied(List<MeshRoute> routes, boolean requests, ObjectKey service, int port, String callerNamespace) {
        List<MeshRoute> attached = routes.stream().filter(route -> route.key().kind().routesRequests() == requests)
                .filter(route -> route.parents().stream().anyMatch(parent -> parent.service().equals(service)
                        && parent.port().map(p -> p == port).orElse(true))).toList();
        List<MeshRoute> consumer = attached.stream().filter(r -> !r.key().id().namespace().equals(service.namespace())
                && r.key().id().namespace().equals(callerNamespace)).toList();
        return !consumer.isEmpty() ? consumer : attached.stream().filter(r -> r.key().id().namespace().equals(service.namespace())).toList();
    }

    /**
     * Where opaque connections to the port go: the backends of the oldest TCPRoute that applies
     * (then by namespace/name), its rules' backends together; empty when none applies.
     */
    static List<WeightedBackend> opaqueBackends(ClusterSnapshot snapshot, List<MeshRoute> routes, ObjectKey service, int port, String callerNamespace,
                                               String clusterDomain) {
        return applied(routes, false, service, port, callerNamespace).stream()
                .min(Comparator.comparing(MeshRoute::created).thenComparing(MeshRoute::key))
                .map(route -> route.rules().stream().flatMap(rule -> rule.backends().stream())
                        .map(backend -> WeightedBackend.newBuilder().setAuthority(BackendRefs.authority(snapshot, route, backend, clusterDomain).orElse(""))
                                .setWeight(backend.weight()).build()).toList())
                .orElse(List.of());
    }

    /** The routes for callers in {@code callerNamespace} of {@code service}'s {@code port}; empty when no Gateway API route applies. */
    static List<Route> of(ClusterSnapshot snapshot, List<MeshRoute> routes, ObjectKey service, int port, String callerNamespace, String clusterDomain) {
        List<MeshRoute> applied = applied(routes, true, service, port, callerNamespace);
        List<Entry> entries = new ArrayList<>();
        for (MeshRoute route : applied) {
            for (MeshRoute.Rule rule : route.rules()) {
                for (int m = 0; m < rule.matches().size(); m++) {
                    entries.add(new Entry(route, rule, m, rule.matches().get(m)));
                }
            }
        }
        entries.sort(PRECEDENCE);
        List<Route> out = new ArrayList<>();
        for (Entry entry : entries) {
            out.add(route(snapshot, entry, clusterDomain));
        }
        return out;
    }

    private static final Comparator<Entry> PRECEDENCE = Comparator
            .comparingInt((Entry e) -> e.match().path().map(p -> p.type().ordinal()).orElse(MatchType.values().length))
            .thenComparing(e -> -e.match().path().filter(p -> p.type() == MatchType.PREFIX).map(p -> p.value().length()).orElse(0))
            .thenComparing(e -> e.match().method().isPresent() ? 0 : 1)
            .thenComparing(e -> -e.match().headers().size())
            .thenComparing(e -> -e.match().queryParams().size())
            .thenComparing(e -> e.route().created())
            .thenComparing(e -> e.route().key())
            .thenComparingInt(e -> e.rule().index())
            .thenComparingInt(Entry::matchIndex);

    private static Route route(ClusterSnapshot snapshot, Entry entry, String clusterDomain) {
        MeshRoute.Rule rule = entry.rule();
        Route.Builder out = Route.newBuilder()
                .setName(entry.route().key().id().name())
                .setKind(entry.route().key().kind().apiName())
                .setNamespace(entry.route().key().id().namespace())
                .setCondition(condition(entry.match()));
        for (MeshRoute.Backend backend : rule.backends()) {
            out.addBackends(WeightedBackend.newBuilder().setAuthority(BackendRefs.authority(snapshot, entry.route(), backend, clusterDomain).orElse(""))
                    .setWeight(backend.weight()));
        }
        RequestFilters.Builder filters = RequestFilters.newBuilder();
        for (Filter filter : rule.filters()) {
            switch (filter) {
                case Filter.RequestHeaders h -> filters.setRequestHeaders(edit(h.edit()));
                case Filter.ResponseHeaders h -> filters.setResponseHeaders(edit(h.edit()));
                case Filter.Redirect r -> {
                    Redirect.Builder redirect = Redirect.newBuilder().setStatus(r.status());
                    r.scheme().ifPresent(redirect::setScheme);
                    r.hostname().ifPresent(redirect::setHostname);
                    r.port().ifPresent(redirect::setPort);
                    r.path().ifPresent(p -> redirect.setHasPath(true).setPath(p.value()).setPrefixMatch(!p.fullPath()));
                    filters.setRedirect(redirect);
                }
                case Filter.Rewrite r -> {
                    Rewrite.Builder rewrite = Rewrite.newBuilder();
                    r.hostname().ifPresent(rewrite::setHostname);
                    r.path().ifPresent(p -> rewrite.setHasPath(true).setPath(p.value()).setPrefixMatch(!p.fullPath()));
                    filters.setRewrite(rewrite);
                }
                case Filter.Mirror m -> BackendRefs.authority(snapshot, entry.route(), m.backend(), clusterDomain)
                        .ifPresent(a -> filters.setMirror(Mirror.newBuilder().setAuthority(a).setPercent(m.percent())));
            }
        }
        if (!rule.filters().isEmpty()) {
            out.setFilters(filters);
        }
        rule.requestTimeout().ifPresent(t -> out.setTimeout(duration(t)));
        rule.backendTimeout().ifPresent(t -> out.setBackendTimeout(duration(t)));
        rule.retry().ifPresent(retry -> {
            RetryPolicy.Builder policy = RetryPolicy.newBuilder().setAttempts(retry.attempts())
                    .addAllHttpStatuses(retry.httpStatuses().stream().sorted().toList())
                    .addAllGrpcCodes(retry.grpcCodes().stream().sorted().toList());
            retry.perTry().ifPresent(t -> policy.setPerTryTimeout(duration(t)));
            out.setRetry(policy).setIsRetryable(retry.attempts() > 0);
        });
        return out.build();
    }

    private static RequestMatch.Builder condition(MeshRoute.Match match) {
        RequestMatch.Builder condition = RequestMatch.newBuilder();
        match.path().ifPresent(path -> {
            switch (path.type()) {
                case EXACT -> condition.setPath(path.value());
                case PREFIX -> condition.setPathPrefix(path.value());
                case REGEX -> condition.setPathRegex(path.value());
            }
        });
        match.method().ifPresent(condition::setMethod);
        match.headers().forEach(h -> condition.addHeaders(value(h)));
        match.queryParams().forEach(q -> condition.addQueryParams(value(q)));
        return condition;
    }

    private static ValueMatch value(MeshRoute.ValueMatch match) {
        ValueMatch.Builder out = ValueMatch.newBuilder().setName(match.name());
        return (match.type() == MatchType.REGEX ? out.setRegex(match.value()) : out.setExact(match.value())).build();
    }

    private static HeaderEdit edit(MeshRoute.HeaderEdit edit) {
        HeaderEdit.Builder out = HeaderEdit.newBuilder().addAllRemove(edit.remove());
        edit.set().forEach(h -> out.addSet(Header.newBuilder().setName(h.name()).setValue(h.value())));
        edit.add().forEach(h -> out.addAdd(Header.newBuilder().setName(h.name()).setValue(h.value())));
        return out.build();
    }

    private static Duration duration(java.time.Duration d) {
        return Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
    }
}
