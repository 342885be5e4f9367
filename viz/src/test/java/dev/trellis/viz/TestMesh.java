package dev.trellis.viz;

import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.Workloads;
import dev.trellis.core.identity.WorkloadIdentity;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * A cluster for viz's tests: pods built with fabric8's builders (each pod's proxy named by a
 * port of 127.0.0.1, as in local mode) and a scraper that answers, for each proxy, the
 * Prometheus text a proxy would expose after {@code rps} inbound requests per second of
 * which {@code success} succeeded, and outbound calls to the Services named — counters
 * growing with the clock, so rates come out as set.
 */
public final class TestMesh implements ClusterSource, Viz.Scraper {

    /** What one pod's proxy sees: inbound requests per second and their success, and per-second calls to Services ({@code ns/svc}). */
    /** What a pod's proxy counts: requests, their success, calls to Services, and (under Server {@code server}) denials and audit mode's would-be denials. */
    public record Traffic(double rps, double success, Map<String, Double> callsPerSecond, String server, double deniedPerSecond, double wouldDenyPerSecond) {
        public Traffic(double rps, double success, Map<String, Double> callsPerSecond) {
            this(rps, success, callsPerSecond, "", 0, 0);
        }
    }

    private final List<HasMetadata> objects = new ArrayList<>();
    private final Map<Integer, Traffic> trafficByPort = new ConcurrentHashMap<>();
    private final Map<Integer, Pod> podsByPort = new ConcurrentHashMap<>();
    private final Instant began = Instant.now();
    private volatile ClusterSnapshot snapshot = ClusterSnapshot.EMPTY;
    private boolean dirty;
    private int nextPort = 1;

    /** Adds a Deployment's pod (owner: ReplicaSet {@code deployment-rs}), labels {@code app: deployment}. */
    public synchronized Pod pod(String namespace, String deployment, String name, String serviceAccount, Traffic traffic) {
        int port = nextPort++;
        Pod pod = new PodBuilder().withNewMetadata().withNamespace(namespace).withName(name).withLabels(Map.of("app", deployment))
                .withAnnotations(Map.of(Workloads.PROXY_INBOUND_PORT, Integer.toString(port)))
                .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("ReplicaSet").withName(deployment + "-rs")
                        .withUid("uid-" + name).withController(true).build())
                .endMetadata()
                .withNewSpec().withServiceAccountName(serviceAccount).addNewContainer().withName("app").withImage("app").endContainer().endSpec()
                .withNewStatus().withPodIP("127.0.0.1").withPhase("Running").endStatus().build();
        objects.add(pod);
        trafficByPort.put(port, traffic);
        podsByPort.put(port, pod);
        dirty = true;
        return pod;
    }

    public synchronized void service(String namespace, String name, String app) {
        objects.add(new ServiceBuilder().withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
                .withNewSpec().withSelector(Map.of("app", app)).endSpec().build());
        dirty = true;
    }

    /** The snapshot is built when next asked for, so adding 10,000 pods builds it once. */
    private synchronized ClusterSnapshot rebuildIfDirty() {
        if (dirty) {
            ClusterSnapshot.Builder builder = new ClusterSnapshot.Builder();
            objects.forEach(builder::add);
            snapshot = builder.build(snapshot.generation() + 1);
            dirty = false;
        }
        return snapshot;
    }

    @Override
    public CompletableFuture<String> scrape(InetSocketAddress proxy, WorkloadIdentity identity) {
        Traffic traffic = trafficByPort.get(proxy.getPort());
        if (traffic == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("no proxy on " + proxy));
        }
        double seconds = Duration.between(began, Instant.now()).toMillis() / 1000.0;
        double total = Math.floor(traffic.rps() * seconds);
        double ok = Math.floor(total * traffic.success());
        StringBuilder text = new StringBuilder();
        text.append("response_total{direction=\"inbound\",authority=\"a\",status_code=\"200\",classification=\"success\"} ").append(ok).append('\n');
        text.append("response_total{direction=\"inbound\",authority=\"a\",status_code=\"500\",classification=\"failure\"} ").append(total - ok).append('\n');
        text.append("response_latency_ms_bucket{direction=\"inbound\",authority=\"a\",le=\"10.0\"} ").append(total).append('\n');
        text.append("response_latency_ms_bucket{direction=\"inbound\",authority=\"a\",le=\"+Inf\"} ").append(total).append('\n');
        text.append("identity_cert_expiration_timestamp_seconds ").append(began.plus(Duration.ofHours(24)).getEpochSecond()).append('\n');
        if (traffic.deniedPerSecond() > 0) {
            text.append("inbound_http_authz_deny_total{srv_name=\"").append(traffic.server()).append("\"} ")
                    .append(Math.floor(traffic.deniedPerSecond() * seconds)).append('\n');
        }
        if (traffic.wouldDenyPerSecond() > 0) {
            text.append("inbound_http_authz_audit_total{srv_name=\"").append(traffic.server()).append("\"} ")
                    .append(Math.floor(traffic.wouldDenyPerSecond() * seconds)).append('\n');
        }
        traffic.callsPerSecond().forEach((service, perSecond) -> {
            String[] ns = service.split("/");
            text.append("route_response_total{direction=\"outbound\",authority=\"").append(ns[1]).append('.').append(ns[0])
                    .append(".svc.cluster.local:80\",dst_namespace=\"").append(ns[0]).append("\",dst_service=\"").append(ns[1])
                    .append("\",rt_route=\"[default]\",status_code=\"200\",classification=\"success\"} ").append(Math.floor(perSecond * seconds)).append('\n');
        });
        return CompletableFuture.completedFuture(text.toString());
    }

    @Override
    public ClusterSnapshot current() {
        return rebuildIfDirty();
    }

    @Override
    public AutoCloseable subscribe(Consumer<ClusterSnapshot> listener) {
        return () -> { };
    }

    @Override
    public boolean synced() {
        return true;
    }

    @Override
    public Optional<String> problem() {
        return Optional.empty();
    }

    @Override
    public String describe() {
        return "test";
    }

    @Override
    public void close() {
    }

    /** A Viz over this mesh, scraping every 200 ms. */
    public Viz viz(Clock clock) throws Exception {
        return viz(clock, Duration.ofMillis(200));
    }

    /** A Viz over this mesh, scraping every {@code interval}. */
    public Viz viz(Clock clock, Duration interval) throws Exception {
        io.netty.handler.ssl.SslContext tls = io.netty.handler.ssl.SslContextBuilder.forClient().build();
        return Viz.start(this, this, new TapClient(tls), "cluster.local", interval, clock);
    }
}
