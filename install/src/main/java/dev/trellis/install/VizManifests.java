package dev.trellis.install;

import dev.trellis.cluster.kubernetes.WatchedResource;
import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.viz.prometheus.ScrapeJob;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The metrics API and the dashboard: it reads pods, Services and policy, scrapes the proxies
 * over mTLS as the viz identity, answers the CLI on the pod's loopback (reached with {@code
 * kubectl port-forward}) with the bearer token of the {@code trellis-viz-api-token} Secret,
 * made here, and serves the dashboard on the pod's loopback too ({@code trellis viz dashboard}
 * port-forwards to it and logs the user in with their own token: it may create TokenReviews
 * and SubjectAccessReviews, nothing else beyond reading). No Service and no open port but the
 * probes: nothing in the cluster reaches it.
 * One replica even under {@code --ha}: each replica would scrape every proxy, and the CLI
 * talks to one pod.
 */
final class VizManifests {

    static final String ROLE = "viz";
    static final int API_PORT = 8084;
    static final int DASHBOARD_PORT = 8085;
    static final int ADMIN_PORT = 9994;
    static final int PROBE_PORT = 9995;
    static final String API_TOKEN_SECRET = "trellis-viz-api-token";
    static final String API_TOKEN_DIR = "/var/run/trellis/viz-api-token";
    static final String STATE_DIR = "/var/run/trellis/viz";
    /** Where viz's scrape bridge and the Prometheus beside it listen: the pod's loopback, nothing else reaches them. */
    static final int BRIDGE_PORT = 9096;
    static final int PROMETHEUS_PORT = 9090;
    static final String BRIDGE_TOKEN_SECRET = "trellis-viz-bridge-token";
    static final String BRIDGE_TOKEN_DIR = "/var/run/trellis/viz-bridge-token";
    static final String PROMETHEUS_CONFIG = "trellis-prometheus-config";
    static final String PROMETHEUS_CONFIG_DIR = "/var/run/trellis/prometheus-config";
    static final String PROMETHEUS_DATA_DIR = "/var/run/trellis/prometheus";
    /** Linkerd-viz's defaults: 10 s scrapes, 6 h kept. */
    static final Duration SCRAPE_INTERVAL = Duration.ofSeconds(10);
    static final String RETENTION = "6h";

    private VizManifests() {
    }

    static List<HasMetadata> objects(InstallOptions options, SecureRandom random) {
        ControlPlaneWorkload workload = new ControlPlaneWorkload(options, ControlPlaneComponent.VIZ, ROLE, ControlPlaneWorkload.Replication.SINGLE);
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        String token = HexFormat.of().formatHex(secret);
        List<String> args = new ArrayList<>(List.of("viz", "serve",
                "--kubernetes",
                "--trust-domain", options.trustDomain(),
                "--namespace", options.namespace(),
                "--trust-anchor", ControlPlaneWorkload.TRUST_ANCHORS_FILE,
                "--identity-addr", options.serviceHost(ControlPlaneComponent.IDENTITY.serviceAccount()) + ":" + IdentityManifests.GRPC_PORT,
                "--token-file", ControlPlaneWorkload.IDENTITY_TOKEN_FILE,
                "--port", String.valueOf(API_PORT),
                "--dashboard", "127.0.0.1:" + DASHBOARD_PORT,
                "--api-file", STATE_DIR + "/api",
                "--api-token-file", API_TOKEN_DIR + "/token",
                "--admin", "127.0.0.1:" + ADMIN_PORT,
                "--probe", "0.0.0.0:" + PROBE_PORT));
        List<io.fabric8.kubernetes.api.model.VolumeMount> mounts = new ArrayList<>(List.of(ControlPlaneWorkload.trustAnchorsMount(),
                ControlPlaneWorkload.identityTokenMount(),
                new VolumeMountBuilder().withName("api-token").withMountPath(API_TOKEN_DIR).withReadOnly(true).build(),
                new VolumeMountBuilder().withName("state").withMountPath(STATE_DIR).build()));
        List<io.fabric8.kubernetes.api.model.Volume> volumes = new ArrayList<>(List.of(ControlPlaneWorkload.trustAnchorsVolume(),
                ControlPlaneWorkload.identityTokenVolume(),
                new VolumeBuilder().withName("api-token").withNewSecret().withSecretName(API_TOKEN_SECRET).withDefaultMode(0440).endSecret().build(),
                new VolumeBuilder().withName("state").withNewEmptyDir().withMedium("Memory").withSizeLimit(new io.fabric8.kubernetes.api.model.Quantity("1Mi")).endEmptyDir().build()));
        List<HasMetadata> prometheusObjects = new ArrayList<>();
        Optional<io.fabric8.kubernetes.api.model.Container> prometheus = Optional.empty();
        if (options.prometheusImage().isPresent()) {
            // Prometheus beside viz, in the same pod: it scrapes viz's bridge (which fetches every proxy over mTLS as the viz
            // identity) on the pod's loopback, and viz reads it there; neither listens where anything else reaches.
            byte[] bridgeSecret = new byte[32];
            random.nextBytes(bridgeSecret);
            args.addAll(List.of("--bridge", "127.0.0.1:" + BRIDGE_PORT, "--bridge-token-file", BRIDGE_TOKEN_DIR + "/token",
                    "--prometheus", "http://127.0.0.1:" + PROMETHEUS_PORT + "/"));
            mounts.add(new VolumeMountBuilder().withName("bridge-token").withMountPath(BRIDGE_TOKEN_DIR).withReadOnly(true).build());
            volumes.add(new VolumeBuilder().withName("bridge-token").withNewSecret().withSecretName(BRIDGE_TOKEN_SECRET).withDefaultMode(0440).endSecret().build());
            volumes.add(new VolumeBuilder().withName("prometheus-config").withNewConfigMap().withName(PROMETHEUS_CONFIG).endConfigMap().build());
            volumes.add(new VolumeBuilder().withName("prometheus-data").withNewEmptyDir().withMedium("Memory")
                    .withSizeLimit(new io.fabric8.kubernetes.api.model.Quantity("256Mi")).endEmptyDir().build());
            prometheusObjects.add(new SecretBuilder().withMetadata(workload.metadata(BRIDGE_TOKEN_SECRET)).withType("Opaque")
                    .addToStringData("token", HexFormat.of().formatHex(bridgeSecret)).build());
            prometheusObjects.add(new io.fabric8.kubernetes.api.model.ConfigMapBuilder().withMetadata(workload.metadata(PROMETHEUS_CONFIG))
                    .addToData("prometheus.yml", ScrapeJob.config(URI.create("http://127.0.0.1:" + BRIDGE_PORT + "/targets"), BRIDGE_TOKEN_DIR + "/token",
                            SCRAPE_INTERVAL)).build());
            prometheus = Optional.of(workload.upstreamContainer("prometheus", options.prometheusImage().get(), List.of(
                            "--config.file=" + PROMETHEUS_CONFIG_DIR + "/prometheus.yml",
                            "--storage.tsdb.path=" + PROMETHEUS_DATA_DIR,
                            "--storage.tsdb.retention.time=" + RETENTION,
                            "--web.listen-address=127.0.0.1:" + PROMETHEUS_PORT),
                    new ControlPlaneWorkload.Resources("100m", "1", "768Mi"),
                    List.of(new VolumeMountBuilder().withName("prometheus-config").withMountPath(PROMETHEUS_CONFIG_DIR).withReadOnly(true).build(),
                            new VolumeMountBuilder().withName("bridge-token").withMountPath(BRIDGE_TOKEN_DIR).withReadOnly(true).build(),
                            new VolumeMountBuilder().withName("prometheus-data").withMountPath(PROMETHEUS_DATA_DIR).build())));
        }
        var container = workload.container(args, List.of(), new ControlPlaneWorkload.Resources("100m", "1", "384Mi"), PROBE_PORT, mounts);
        var pod = workload.pod(container, volumes, true);
        if (prometheus.isPresent()) {
            pod = new io.fabric8.kubernetes.api.model.PodSpecBuilder(pod).addToContainers(prometheus.get()).build();
        }
        List<HasMetadata> objects = new ArrayList<>();
        objects.add(workload.serviceAccount());
        List<io.fabric8.kubernetes.api.model.rbac.PolicyRule> rules = new ArrayList<>(DestinationManifests.readRules(WatchedResource.VIZ));
        // The dashboard's logins: who a user's token is (TokenReview), and what that user may see (SubjectAccessReview).
        rules.add(new io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder().withApiGroups("authentication.k8s.io").withResources("tokenreviews")
                .withVerbs("create").build());
        rules.add(new io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder().withApiGroups("authorization.k8s.io").withResources("subjectaccessreviews")
                .withVerbs("create").build());
        objects.addAll(workload.clusterRole(rules));
        objects.add(new SecretBuilder().withMetadata(workload.metadata(API_TOKEN_SECRET)).withType("Opaque")
                .addToStringData("token", token).build());
        // A new token (each install makes one) restarts the API, which reads it at start.
        objects.add(workload.deployment(pod, Map.of("trellis.dev/api-token-checksum", sha256(token))));
        objects.addAll(prometheusObjects);
        objects.add(workload.networkPolicy(List.of(PROBE_PORT)));
        return objects;
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
