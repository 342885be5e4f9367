package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.Workloads;
import dev.trellis.cluster.policy.PolicyResources;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.text.UntrustedText;
import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.GoldenHistory;
import dev.trellis.viz.MetricsWindow;
import dev.trellis.viz.StatRow;
import dev.trellis.viz.Viz;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The dashboard's JSON API: each page's data under {@code /api/}, from the one query layer
 * ({@link Viz}) that also answers {@code viz stat/edges/routes}, filtered to the namespaces the
 * viewer may see. Thread-safe.
 */
final class DashboardApi {

    /** The viewer may not see that namespace. */
    static final class Forbidden extends RuntimeException {
        Forbidden(String message) {
            super(message);
        }
    }

    /** A proxy whose certificate ends within this is listed as expiring soon (leaves live 24 h and renew at 70 %). */
    static final Duration CERTIFICATE_SOON = Duration.ofHours(6);
    private static final int MAX_NAME = 253;

    private final Viz viz;
    private final ControlPlaneStatus controlPlane;
    private final String trustDomain;
    private final Clock clock;

    DashboardApi(Viz viz, ControlPlaneStatus controlPlane, String trustDomain, Clock clock) {
        this.viz = requireNonNull(viz, "viz");
        this.controlPlane = requireNonNull(controlPlane, "controlPlane");
        this.trustDomain = requireNonNull(trustDomain, "trustDomain");
        this.clock = requireNonNull(clock, "clock");
    }

    /** Answers {@code GET path} for {@code session}; {@code param} gives the query's values. */
    WebAnswer answer(String path, Function<String, Optional<String>> param, Sessions.Session session, Instant expires) {
        Viewer viewer = session.viewer;
        return switch (path) {
            case "/api/session" -> WebAnswer.json(200, new SessionInfo(viewer.user(), viewer.groups(), session.csrf, expires));
            case "/api/namespaces" -> WebAnswer.json(200, visible(viewer, viz.stat(Viz.Resource.NS, Optional.empty(), Optional.empty())));
            case "/api/workloads" -> WebAnswer.json(200, workloads(viewer, param.apply("namespace").map(DashboardApi::name), param.apply("kind").map(DashboardApi::kind)));
            case "/api/workload" -> WebAnswer.json(200, workload(viewer, name(required(param, "namespace")), kind(required(param, "kind")),
                    name(required(param, "name")), GoldenHistory.Range.parse(param.apply("range").orElse("5m"))));
            case "/api/topology" -> WebAnswer.json(200, topology(viewer, name(required(param, "namespace"))));
            case "/api/control-plane" -> WebAnswer.json(200, controlPlane(viewer));
            default -> throw new IllegalArgumentException("dashboard: no API " + UntrustedText.printable(path, 60)
                    + "; try /api/namespaces, /api/workloads, /api/workload, /api/topology, /api/control-plane, /api/session");
        };
    }

    record SessionInfo(String user, List<String> groups, String csrf, Instant expires) {}

    private List<StatRow> workloads(Viewer viewer, Optional<String> namespace, Optional<String> kind) {
        namespace.ifPresent(ns -> mustView(viewer, ns));
        return visible(viewer, viz.stat(Viz.Resource.WORKLOAD, namespace, Optional.empty())).stream()
                .filter(row -> kind.map(k -> k.equals(row.kind())).orElse(true))
                .toList();
    }

    /** A workload's page: its golden metrics now and over time, who it talks to, its routes, pods and inbound policy. */
    record WorkloadPage(StatRow stat, String range, List<GoldenHistory.Sample> history, List<Viz.EdgeRow> inbound, List<Viz.EdgeRow> outbound,
                        List<ServiceRoutes> routes, List<PodRow> pods, List<ServerPolicy> policy, MetricsWindow.Refusals refused) {}

    record ServiceRoutes(String service, List<MetricsWindow.RouteRow> routes) {}

    record PodRow(StatRow stat, String identity, String ip, Instant certificateNotAfter) {}

    /** {@code accessPolicy}: {@code deny}, or {@code audit} (callers no authorization admits are let through and recorded). */
    record ServerPolicy(String server, String port, String protocol, String accessPolicy, List<Authorization> authorizations) {}

    record Authorization(String name, String target, List<String> authentications) {}

    private WorkloadPage workload(Viewer viewer, String namespace, String kind, String name, GoldenHistory.Range range) {
        mustView(viewer, namespace);
        List<Pod> pods = viz.pods(namespace, kind, name);
        if (pods.isEmpty()) {
            throw new IllegalArgumentException("dashboard: no " + kind + " " + namespace + "/" + name + " (it has no pods)");
        }
        StatRow stat = viz.stat(Viz.Resource.WORKLOAD, Optional.of(namespace), Optional.of(name)).stream()
                .filter(r -> r.kind().equals(kind)).findFirst().orElseThrow();
        // Every edge once: the inbound ones end here, the outbound ones start here (and may end in any namespace).
        List<Viz.EdgeRow> edges = viz.edges(Optional.empty());
        List<Viz.EdgeRow> inbound = edges.stream().filter(e -> e.dstNamespace().equals(namespace) && e.dst().equals(name)).toList();
        List<Viz.EdgeRow> outbound = edges.stream()
                .filter(e -> e.srcNamespace().equals(namespace) && Arrays.asList(e.src().split(",")).contains(name))
                .filter(e -> viewer.access().mayView(e.dstNamespace()))
                .toList();
        ClusterSnapshot snapshot = viz.snapshot();
        List<ServiceRoutes> routes = services(snapshot, namespace, pods).stream()
                .map(service -> new ServiceRoutes(service, viz.routes(service, namespace))).toList();
        Map<String, StatRow> podStats = new java.util.HashMap<>();
        viz.stat(Viz.Resource.POD, Optional.of(namespace), Optional.empty()).forEach(r -> podStats.put(r.name(), r));
        Map<String, Instant> expiries = new java.util.HashMap<>();
        viz.certificates().forEach(c -> expiries.put(c.namespace() + "/" + c.pod(), c.notAfter()));
        List<PodRow> podRows = pods.stream().map(p -> new PodRow(podStats.get(p.getMetadata().getName()),
                new WorkloadIdentity(trustDomain, namespace, Workloads.serviceAccount(p)).spiffeId(),
                p.getStatus() == null ? null : p.getStatus().getPodIP(), expiries.get(namespace + "/" + p.getMetadata().getName()))).toList();
        return new WorkloadPage(stat, range.label(), viz.history(namespace, kind, name, range), inbound, outbound, routes, podRows,
                policy(snapshot, namespace, pods), viz.refusals(pods));
    }

    /** Services of {@code namespace} whose selector picks any of {@code pods}. */
    private static List<String> services(ClusterSnapshot snapshot, String namespace, List<Pod> pods) {
        Set<String> names = new LinkedHashSet<>();
        for (var service : snapshot.services()) {
            Map<String, String> selector = service.getSpec() == null ? null : service.getSpec().getSelector();
            if (!namespace.equals(service.getMetadata().getNamespace()) || selector == null || selector.isEmpty()) {
                continue;
            }
            if (pods.stream().anyMatch(p -> p.getMetadata().getLabels() != null && p.getMetadata().getLabels().entrySet().containsAll(selector.entrySet()))) {
                names.add(service.getMetadata().getName());
            }
        }
        return names.stream().sorted().toList();
    }

    /** The Servers that select any of {@code pods}, with the AuthorizationPolicies that target each (or the whole namespace). */
    private static List<ServerPolicy> policy(ClusterSnapshot snapshot, String namespace, List<Pod> pods) {
        List<ServerPolicy> out = new ArrayList<>();
        for (PolicyResources.Server server : snapshot.servers()) {
            if (!server.id().namespace().equals(namespace)
                    || pods.stream().noneMatch(p -> server.podSelector().matches(p.getMetadata().getLabels() == null ? Map.of() : p.getMetadata().getLabels()))) {
                continue;
            }
            List<Authorization> authorizations = snapshot.authorizationPolicies().stream()
                    .filter(a -> a.id().namespace().equals(namespace))
                    .filter(a -> a.target().kind().equals("Namespace") || a.target().kind().equals("Server") && a.target().name().equals(server.id().name()))
                    .map(a -> new Authorization(a.id().name(), a.target().kind() + "/" + a.target().name(),
                            a.requiredAuthentications().stream().map(r -> r.kind() + "/" + r.namespace().map(n -> n + "/").orElse("") + r.name()).toList()))
                    .toList();
            out.add(new ServerPolicy(server.id().name(), server.port().toString(), server.protocol().name().toLowerCase(java.util.Locale.ROOT),
                    server.accessPolicy().name().toLowerCase(java.util.Locale.ROOT), authorizations));
        }
        out.sort(java.util.Comparator.comparing(ServerPolicy::server));
        return out;
    }

    /** The call graph of a namespace: its workloads (and the peers they talk to) as nodes with golden metrics, the calls as edges. */
    record Topology(String namespace, List<TopologyNode> nodes, List<Viz.Call> edges) {}

    record TopologyNode(String namespace, String kind, String name, StatRow stat) {}

    private Topology topology(Viewer viewer, String namespace) {
        mustView(viewer, namespace);
        List<Viz.Call> calls = viz.topology(namespace).stream()
                .filter(c -> viewer.access().mayView(c.src().namespace()) && viewer.access().mayView(c.dst().namespace()))
                .toList();
        Map<Viz.Node, StatRow> stats = new java.util.LinkedHashMap<>();
        viz.stat(Viz.Resource.WORKLOAD, Optional.of(namespace), Optional.empty())
                .forEach(r -> stats.put(new Viz.Node(r.namespace(), r.kind(), r.name()), r));
        Set<Viz.Node> nodes = new LinkedHashSet<>(stats.keySet());
        calls.forEach(c -> {
            nodes.add(c.src());
            nodes.add(c.dst());
        });
        return new Topology(namespace, nodes.stream().map(n -> new TopologyNode(n.namespace(), n.kind(), n.name(), stats.get(n))).toList(), calls);
    }

    record ControlPlanePage(List<ControlPlaneStatus.Check> checks, Instant issuerNotAfter, List<Viz.Certificate> expiringSoon,
                            List<Viz.Certificate> certificates, Map<String, String> scrapeErrors) {}

    private ControlPlanePage controlPlane(Viewer viewer) {
        Instant soon = clock.instant().plus(CERTIFICATE_SOON);
        List<Viz.Certificate> certificates = viz.certificates().stream().filter(c -> viewer.access().mayView(c.namespace())).toList();
        Map<String, String> errors = new java.util.TreeMap<>();
        viz.scrapeErrors().forEach((pod, error) -> {
            if (viewer.access().mayView(pod.substring(0, Math.max(0, pod.indexOf('/'))))) {
                errors.put(pod, error);
            }
        });
        return new ControlPlanePage(controlPlane.checks(), controlPlane.issuerNotAfter().orElse(null),
                certificates.stream().filter(c -> c.notAfter().isBefore(soon)).toList(), certificates, errors);
    }

    private static List<StatRow> visible(Viewer viewer, List<StatRow> rows) {
        return rows.stream().filter(r -> viewer.access().mayView(r.namespace())).toList();
    }

    private static void mustView(Viewer viewer, String namespace) {
        if (!viewer.access().mayView(namespace)) {
            throw new Forbidden("dashboard: " + viewer.user() + " may not list pods in namespace " + namespace);
        }
    }

    private static String required(Function<String, Optional<String>> param, String name) {
        return param.apply(name).orElseThrow(() -> new IllegalArgumentException("dashboard: ?" + name + "= is required"));
    }

    private static String name(String value) {
        if (value.length() > MAX_NAME || !value.chars().allMatch(c -> c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.')) {
            throw new IllegalArgumentException("dashboard: '" + UntrustedText.printable(value, 60) + "' is not a Kubernetes name");
        }
        return value;
    }

    private static String kind(String value) {
        if (!Workloads.Workload.KINDS.contains(value)) {
            throw new IllegalArgumentException("dashboard: kind '" + UntrustedText.printable(value, 30) + "' is not one of " + Workloads.Workload.KINDS);
        }
        return value;
    }
}
