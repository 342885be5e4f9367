package dev.trellis.viz.prometheus;

import static java.util.Objects.requireNonNull;

import dev.trellis.admin.BoundedHttpListener;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.cluster.Workloads;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.viz.Viz;
import io.fabric8.kubernetes.api.model.Pod;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * How a real Prometheus scrapes the proxies without ever holding a plaintext path to them: it
 * scrapes this bridge (loopback, its bearer token), and the bridge fetches each proxy's
 * metrics the only way a proxy serves them — over mTLS, as the viz identity, checking the
 * proxy's own identity ({@link dev.trellis.viz.MeshScraper}). {@code GET /targets} is the
 * target list for Prometheus's {@code http_sd_configs} (a target per meshed pod, labelled
 * {@code namespace}, {@code pod}, {@code workload_kind}, {@code workload}); {@code GET
 * /proxies/NS/POD/metrics} is one proxy's scrape. Nothing else is served; a wrong token is
 * 401, another method 405, an unknown pod or path 404, each logged and counted; a proxy that
 * cannot be scraped is 502 with why (Prometheus shows it as the target's scrape error, {@code up} 0).
 * Bounded as every listener here ({@link BoundedHttpListener}).
 */
public final class ScrapeBridge implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ScrapeBridge.class);

    private final EventLoopGroup group;
    private final BoundedHttpListener listener;

    private ScrapeBridge(EventLoopGroup group, BoundedHttpListener listener) {
        this.group = group;
        this.listener = listener;
    }

    /**
     * Listens on {@code listen} (a loopback address); callers must present {@code token}.
     *
     * @throws IllegalArgumentException when the token is shorter than 32 characters
     */
    public static ScrapeBridge start(ClusterSource cluster, Viz.Scraper scraper, String trustDomain, HostPort listen, String token) {
        return start(cluster, scraper, trustDomain, listen, token, new io.prometheus.metrics.model.registry.PrometheusRegistry());
    }

    /** As above, counting what it refuses ({@code prometheus_bridge_refused_total{reason}}) in {@code registry}: an admin listener's. */
    public static ScrapeBridge start(ClusterSource cluster, Viz.Scraper scraper, String trustDomain, HostPort listen, String token,
                                     io.prometheus.metrics.model.registry.PrometheusRegistry registry) {
        requireNonNull(cluster, "cluster");
        requireNonNull(scraper, "scraper");
        if (token.length() < 32) {
            throw new IllegalArgumentException("prometheus bridge: the token must be at least 32 characters");
        }
        byte[] expected = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        JsonMapper json = JsonMapper.builder().build();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        // Targets name the bridge by the address it is bound to, never by a Host header a caller sent.
        java.util.concurrent.atomic.AtomicReference<String> self = new java.util.concurrent.atomic.AtomicReference<>();
        io.prometheus.metrics.core.metrics.Counter refusals = io.prometheus.metrics.core.metrics.Counter.builder().name("prometheus_bridge_refused")
                .help("Scrape bridge requests refused, by reason").labelNames("reason").register(registry);
        BoundedHttpListener.Handler handler = (request, peer) -> {
            // Every refusal passes here: logged with who asked for what, and counted.
            java.util.function.BiFunction<String, String, CompletableFuture<FullHttpResponse>> refuse = (reason, why) -> {
                refusals.labelValues(reason).inc();
                log.warn("prometheus bridge: refused {} {} from {}: {}", request.method(), printable(request.uri()), peer, why);
                HttpResponseStatus status = switch (reason) {
                    case "no_token" -> HttpResponseStatus.UNAUTHORIZED;
                    case "method_not_allowed" -> HttpResponseStatus.METHOD_NOT_ALLOWED;
                    default -> HttpResponseStatus.NOT_FOUND;
                };
                return done(status, "prometheus bridge: " + why + "\n");
            };
            String auth = request.headers().get("Authorization", "");
            if (!MessageDigest.isEqual(auth.getBytes(StandardCharsets.UTF_8), expected)) {
                return refuse.apply("no_token", "a bearer token is required (none, or not this bridge's)");
            }
            if (!request.method().equals(HttpMethod.GET)) {
                return refuse.apply("method_not_allowed", "GET only");
            }
            String path = request.uri().contains("?") ? request.uri().substring(0, request.uri().indexOf('?')) : request.uri();
            if (path.equals("/targets")) {
                return CompletableFuture.completedFuture(json(json, targets(cluster, self.get())));
            }
            String[] parts = path.split("/");
            if (parts.length == 5 && parts[1].equals("proxies") && parts[4].equals("metrics")) {
                Optional<Pod> pod = meshedPod(cluster, parts[2], parts[3]);
                return pod.isEmpty() ? refuse.apply("unknown_pod", "no meshed pod " + printable(parts[2]) + "/" + printable(parts[3]))
                        : scrape(scraper, trustDomain, pod.get());
            }
            return refuse.apply("not_found", "only /targets and /proxies/NAMESPACE/POD/metrics");
        };
        try {
            BoundedHttpListener listener = BoundedHttpListener.start("prometheus bridge", group, listen, Optional.empty(),
                    new BoundedHttpListener.Limits(1024, 8192, 0, 64, Duration.ofSeconds(10)), handler);
            self.set(listen.host() + ":" + listener.address().getPort());
            return new ScrapeBridge(group, listener);
        } catch (RuntimeException e) {
            group.shutdownGracefully();
            throw e;
        }
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    /** Where Prometheus's {@code http_sd_configs} reads the targets. */
    public URI targetsUrl() {
        return URI.create("http://127.0.0.1:" + address().getPort() + "/targets");
    }

    @Override
    public void close() {
        listener.close();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    }

    private record TargetGroup(List<String> targets, Map<String, String> labels) {}

    private static List<TargetGroup> targets(ClusterSource cluster, String self) {
        List<TargetGroup> groups = new ArrayList<>();
        for (Pod pod : cluster.current().pods()) {
            if (Viz.proxyAddress(pod).isEmpty()) {
                continue;
            }
            Workloads.Workload workload = Workloads.workload(pod);
            String namespace = pod.getMetadata().getNamespace();
            String name = pod.getMetadata().getName();
            groups.add(new TargetGroup(List.of(self), Map.of("__metrics_path__", "/proxies/" + namespace + "/" + name + "/metrics",
                    "namespace", namespace, "pod", name, "workload_kind", workload.kind(), "workload", workload.name())));
        }
        return groups;
    }

    private static Optional<Pod> meshedPod(ClusterSource cluster, String namespace, String name) {
        return cluster.current().pods().stream()
                .filter(p -> p.getMetadata().getNamespace().equals(namespace) && p.getMetadata().getName().equals(name))
                .filter(p -> Viz.proxyAddress(p).isPresent())
                .findFirst();
    }

    /** One proxy's metrics over mTLS; a failure is the scrape's error (Prometheus shows it, {@code up} 0), not a refusal. */
    private static CompletableFuture<FullHttpResponse> scrape(Viz.Scraper scraper, String trustDomain, Pod pod) {
        String namespace = pod.getMetadata().getNamespace();
        String name = pod.getMetadata().getName();
        WorkloadIdentity identity = new WorkloadIdentity(trustDomain, namespace, Workloads.serviceAccount(pod));
        return scraper.scrape(Viz.proxyAddress(pod).orElseThrow(), identity).handle((text, error) -> {
            if (error != null) {
                return BoundedHttpListener.text(HttpResponseStatus.BAD_GATEWAY, "text/plain", "prometheus bridge: scraping " + namespace + "/" + name + " as "
                        + identity.spiffeId() + ": " + error.getMessage() + "\n");
            }
            return BoundedHttpListener.text(HttpResponseStatus.OK, "text/plain; version=0.0.4; charset=utf-8", text);
        });
    }

    private static FullHttpResponse json(JsonMapper json, Object body) {
        return BoundedHttpListener.text(HttpResponseStatus.OK, "application/json", json.writeValueAsString(body));
    }

    private static CompletableFuture<FullHttpResponse> done(HttpResponseStatus status, String text) {
        return CompletableFuture.completedFuture(BoundedHttpListener.text(status, "text/plain", text));
    }

    private static String printable(String text) {
        return dev.trellis.core.text.UntrustedText.printable(text, 120);
    }
}
