package dev.trellis.cli;

import dev.trellis.admin.AdminServer;
import dev.trellis.cluster.kubernetes.WatchedResource;
import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.tls.client.IdentityClient;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.TrustAnchors;
import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.MeshChecks;
import dev.trellis.viz.MeshScraper;
import dev.trellis.viz.TapClient;
import dev.trellis.viz.Viz;
import dev.trellis.viz.VizApi;
import dev.trellis.viz.VizApiFile;
import dev.trellis.viz.prometheus.PrometheusApi;
import dev.trellis.viz.prometheus.PrometheusCollector;
import dev.trellis.viz.prometheus.ScrapeBridge;
import dev.trellis.viz.web.DashboardConfig;
import dev.trellis.viz.web.DashboardServer;
import dev.trellis.viz.web.KubernetesViewers;
import dev.trellis.viz.web.LoginCodes;
import dev.trellis.viz.web.Logins;
import dev.trellis.viz.web.Viewer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trellis viz serve}: the metrics API on its own, for a mesh that is not the demo. */
@Command(name = "serve", mixinStandardHelpOptions = true, description = {
        "Run the metrics API: scrape every meshed pod's proxy over mTLS as the viz identity (trellis/trellis-viz), keep a",
        "one-minute window, and answer `trellis viz stat/edges/routes/tap/top` on a loopback port with a token."})
final class VizServeCommand implements Callable<Integer> {

    @Option(names = "--trust-domain", defaultValue = WorkloadIdentity.DEFAULT_TRUST_DOMAIN, description = "Trust domain (default: ${DEFAULT-VALUE}).")
    String trustDomain;

    @Option(names = "--trust-anchor", required = true, paramLabel = "FILE", description = "PEM trust anchor(s).")
    Path trustAnchor;

    @Option(names = "--identity-addr", required = true, paramLabel = "HOST:PORT", description = "The identity service, for the viz identity's certificate.")
    HostPort identityAddress;

    @Option(names = "--token-file", required = true, paramLabel = "FILE", description = "Token proving <namespace>/trellis-viz.")
    Path tokenFile;

    @Option(names = "--namespace", defaultValue = ControlPlaneComponent.DEFAULT_NAMESPACE,
            description = "Namespace the control plane runs in: this service is trellis-viz there, the identity service trellis-identity (default: ${DEFAULT-VALUE}).")
    String namespace;

    @ArgGroup(exclusive = true, multiplicity = "1")
    ClusterSourceOptions source;

    @Option(names = "--port", defaultValue = "0", description = "Loopback port of the API (default: any free port).")
    int port;

    @Option(names = "--api-file", required = true, paramLabel = "FILE", description = "Where to write the API's URL and token (0600), for --api-file of the viz commands.")
    Path apiFile;

    @Option(names = "--api-token-file", paramLabel = "FILE",
            description = "Callers must present the token in FILE (at least 32 characters; a Secret in a cluster). Default: a random one, written to --api-file.")
    Path apiTokenFile;

    @Option(names = "--dashboard", paramLabel = "HOST:PORT",
            description = "Also serve the dashboard here (a loopback address: it is reached with a port-forward). With --kubernetes, users log in with their own token "
                    + "(`trellis viz dashboard`: TokenReview) and see what their RBAC lets them list; otherwise with links from the API (POST /api/dashboard/login). "
                    + "Default: no dashboard.")
    HostPort dashboard;

    @Option(names = "--dashboard-allow-host", paramLabel = "NAME", description = "A Host name the dashboard answers to besides localhost, 127.0.0.1 and [::1] (repeatable).")
    List<String> dashboardHosts = new java.util.ArrayList<>();

    @Option(names = "--prometheus", paramLabel = "URL",
            description = "Read the proxies' metrics from this Prometheus (PromQL over its HTTP API) instead of scraping them; it must scrape them through "
                    + "a viz scrape bridge (--bridge). Default: viz scrapes the proxies itself.")
    java.net.URI prometheusUrl;

    @Option(names = "--prometheus-credentials-file", paramLabel = "FILE", description = "user:password for the Prometheus's basic auth (default: none).")
    Path prometheusCredentials;

    @Option(names = "--bridge", paramLabel = "HOST:PORT",
            description = "Serve the scrape bridge here: a Prometheus scrapes the proxies through it (GET /targets for http_sd, /proxies/NS/POD/metrics), "
                    + "and viz fetches each over mTLS as the viz identity. Needs --bridge-token-file. Default: none.")
    HostPort bridge;

    @Option(names = "--bridge-token-file", paramLabel = "FILE", description = "The bearer token the bridge wants (at least 32 characters; Prometheus's credentials_file).")
    Path bridgeTokenFile;

    @Option(names = "--admin", defaultValue = "127.0.0.1:9994", paramLabel = "HOST:PORT", description = "Admin listener: /live /ready /metrics (default: ${DEFAULT-VALUE}).")
    HostPort admin;

    @Option(names = "--probe", paramLabel = "HOST:PORT", description = "Also answer /live and /ready (nothing else) here, for the kubelet. Default: no such listener.")
    HostPort probe;

    @Option(names = "--scrape-interval", defaultValue = "5s", description = "How often every proxy is scraped (default: ${DEFAULT-VALUE}).")
    Duration interval;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** The identity it runs as, from the flags (the settings install renders for it); reads no file. */
    WorkloadIdentity self() {
        return ControlPlaneComponent.VIZ.identity(trustDomain, namespace);
    }

    /** The Prometheus of --prometheus, with the basic-auth pair of --prometheus-credentials-file when given. */
    private PrometheusApi prometheus() throws java.io.IOException {
        Optional<String> user = Optional.empty();
        Optional<String> password = Optional.empty();
        if (prometheusCredentials != null) {
            String pair = Files.readString(prometheusCredentials).strip();
            if (!pair.contains(":")) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "viz serve: " + prometheusCredentials + " must hold user:password");
            }
            user = Optional.of(pair.substring(0, pair.indexOf(':')));
            password = Optional.of(pair.substring(pair.indexOf(':') + 1));
        }
        return new PrometheusApi(prometheusUrl, user, password);
    }

    /** The control-plane page in a cluster: viz's own certificate and cluster state, what it sees of the proxies, and the issuer that signed its certificate. */
    private static ControlPlaneStatus controlPlaneChecks(Viz viz, CredentialsStore credentials, ClusterSource cluster, WorkloadIdentity self, Clock clock) {
        String holdsCertificate = "viz holds a certificate from the identity service";
        return new MeshChecks(viz, () -> List.of(
                credentials.current().map(c -> {
                    java.time.Instant until = c.chain().getFirst().getNotAfter().toInstant();
                    return new ControlPlaneStatus.Check(holdsCertificate, until.isAfter(clock.instant()), self.spiffeId() + " until " + until);
                }).orElse(new ControlPlaneStatus.Check(holdsCertificate, false, "none yet")),
                new ControlPlaneStatus.Check("viz reads the cluster state", cluster.synced() && cluster.problem().isEmpty(),
                        cluster.problem().orElse(cluster.synced() ? cluster.describe() + ": synced" : "not synced yet"))),
                () -> credentials.current().filter(c -> c.chain().size() > 1).map(c -> c.chain().get(1).getNotAfter().toInstant()), clock);
    }

    @Override
    public Integer call() throws Exception {
        Clock clock = Clock.systemUTC();
        WorkloadIdentity self = self();
        TrustAnchors anchors = TrustAnchors.read(trustAnchor);
        CredentialsStore credentials = new CredentialsStore(self, anchors, clock);
        IdentityClient identity = new IdentityClient(IdentityClient.Config.defaults(self, identityAddress,
                ControlPlaneComponent.IDENTITY.identity(trustDomain, namespace), tokenFile),
                credentials, clock);
        identity.start();
        ClusterSource cluster = source.open(WatchedResource.VIZ);
        // The Prometheus viz reads, once it is set up below: viz is not ready while it does not answer.
        java.util.concurrent.atomic.AtomicReference<PrometheusApi> readPrometheus = new java.util.concurrent.atomic.AtomicReference<>();
        io.prometheus.metrics.model.registry.PrometheusRegistry registry = new io.prometheus.metrics.model.registry.PrometheusRegistry();
        AdminServer adminServer = AdminServer.builder("viz").listen(admin).probes(Optional.ofNullable(probe)).registry(registry)
                .readiness(() -> credentials.current().isEmpty() ? Optional.of("no certificate yet for " + self)
                        : !cluster.synced() ? Optional.of(cluster.problem().orElse("cluster state from " + cluster.describe() + " not loaded yet"))
                        : cluster.problem().or(() -> Optional.ofNullable(readPrometheus.get()).filter(p -> !p.ready())
                                .map(p -> "prometheus at " + p.base() + " does not answer /-/ready")))
                .build().start();
        credentials.firstInstalled().get(30, TimeUnit.SECONDS);
        MeshScraper scraper = new MeshScraper(MeshSslContexts.forClient(anchors, Optional.of(credentials), List.of("h2"), clock), Duration.ofSeconds(3));
        TapClient tapClient = new TapClient(MeshSslContexts.forGrpcClient(anchors, Optional.of(credentials), clock));
        Optional<ScrapeBridge> scrapeBridge = Optional.empty();
        if (bridge != null) {
            if (bridgeTokenFile == null) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "viz serve: --bridge needs --bridge-token-file");
            }
            scrapeBridge = Optional.of(ScrapeBridge.start(cluster, scraper, trustDomain, bridge, Files.readString(bridgeTokenFile).strip(), registry));
            spec.commandLine().getOut().println("viz: Prometheus scrape bridge on " + scrapeBridge.get().targetsUrl().resolve("/")
                    + " (targets: " + scrapeBridge.get().targetsUrl() + ")");
        }
        Viz viz;
        if (prometheusUrl != null) {
            PrometheusApi prometheus = prometheus();
            readPrometheus.set(prometheus);
            viz = Viz.start(cluster, new PrometheusCollector(prometheus, clock), tapClient, trustDomain, interval, clock);
        } else {
            viz = Viz.start(cluster, scraper, tapClient, trustDomain, interval, clock);
        }
        Optional<DashboardServer> dashboardServer = Optional.empty();
        Optional<java.util.function.Supplier<java.net.URI>> dashboardLogins = Optional.empty();
        io.fabric8.kubernetes.client.KubernetesClient reviews = null;
        if (dashboard != null) {
            LoginCodes codes = new LoginCodes(Duration.ofMinutes(5), clock);
            Logins logins = Logins.NONE;
            if (source.kubernetes) {
                reviews = new io.fabric8.kubernetes.client.KubernetesClientBuilder().build();
                logins = new KubernetesViewers(reviews, clock);
            }
            ControlPlaneStatus status = controlPlaneChecks(viz, credentials, cluster, self, clock);
            DashboardServer server = DashboardServer.start(DashboardConfig.builder().listen(dashboard).allowHosts(dashboardHosts).build(), viz, codes,
                    logins, status, trustDomain, registry, clock);
            dashboardServer = Optional.of(server);
            // The API token's holder (the operator) may mint links that see everything.
            Viewer operator = new Viewer("viz-api-token-holder", List.of(), Viewer.Access.EVERYTHING);
            dashboardLogins = Optional.of(() -> server.loginLink(codes.mint(operator)));
        }
        String apiToken = apiTokenFile == null ? VizApi.randomToken() : Files.readString(apiTokenFile).strip();
        VizApi api = VizApi.start(viz, port, apiToken, dashboardLogins);
        VizApiFile.write(apiFile, api);
        spec.commandLine().getOut().println("viz: metrics API on http://127.0.0.1:" + api.address().getPort() + " for " + cluster.describe()
                + "; URL and token in " + apiFile);
        dashboardServer.ifPresent(d -> spec.commandLine().getOut().println("viz: dashboard on " + d.url()
                + (source.kubernetes ? " (log in with `trellis viz dashboard`: your token, your rights)" : " (log in with a link from POST /api/dashboard/login)")));
        spec.commandLine().getOut().flush();
        CountDownLatch stopped = new CountDownLatch(1);
        Optional<DashboardServer> closeDashboard = dashboardServer;
        Optional<ScrapeBridge> closeBridge = scrapeBridge;
        io.fabric8.kubernetes.client.KubernetesClient closeReviews = reviews;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            closeDashboard.ifPresent(DashboardServer::close);
            closeBridge.ifPresent(ScrapeBridge::close);
            if (closeReviews != null) {
                closeReviews.close();
            }
            api.close();
            adminServer.close();
            viz.close();
            scraper.close();
            cluster.close();
            identity.close();
            stopped.countDown();
        }, "trellis-viz-shutdown"));
        stopped.await();
        return 0;
    }
}
