package dev.trellis.demo;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.cluster.local.LocalDirectorySource;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.demo.app.EmojiApp;
import dev.trellis.demo.app.VoteBot;
import dev.trellis.demo.app.VotingApp;
import dev.trellis.demo.app.WebApp;
import dev.trellis.destination.DestinationServer;
import dev.trellis.destination.DestinationServerConfig;
import dev.trellis.identity.IdentityServer;
import dev.trellis.identity.IdentityServerConfig;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.core.settings.ProxyMode;
import dev.trellis.proxy.Proxy;
import dev.trellis.proxy.ProxyHost;
import dev.trellis.proxy.ProxyConfig;
import dev.trellis.proxy.Forward;
import dev.trellis.tls.client.IdentityClient;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.CaCertificates;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.TrustAnchors;
import dev.trellis.viz.MeshScraper;
import dev.trellis.viz.StatRow;
import dev.trellis.viz.TapClient;
import dev.trellis.viz.Viz;
import dev.trellis.viz.VizApi;
import dev.trellis.viz.VizApiFile;
import dev.trellis.viz.prometheus.PrometheusApi;
import dev.trellis.viz.prometheus.ScrapeBridge;
import dev.trellis.viz.web.DashboardConfig;
import dev.trellis.viz.web.DashboardServer;
import dev.trellis.viz.web.LoginCodes;
import dev.trellis.viz.web.Viewer;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The whole mesh on one machine, in this JVM, on loopback: the identity service (a fresh PKI),
 * the destination service reading a manifest directory, the viz metrics API, and the sample
 * app — web, emoji (two replicas), voting (fails a share), a vote bot — each workload with its
 * own proxy, service account and certificate. Workloads run as threads here rather than as
 * processes: one JVM starts in about a second and shares its runtime, where eight would take
 * eight times the memory; every hop still crosses real sockets with real mTLS.
 *
 * <p>Files: {@code DIR/state} (the cluster state a user may edit), {@code DIR/pki},
 * {@code DIR/tokens}, {@code DIR/logs} (audit and connection logs), {@code DIR/viz-api}
 * (URL and token of the metrics API, 0600), {@code DIR/control-plane.env} (addresses of the
 * identity and destination services), {@code DIR/demo.lock}.
 */
public final class DemoMesh implements AutoCloseable {

    public static final String TRUST_DOMAIN = WorkloadIdentity.DEFAULT_TRUST_DOMAIN;
    private static final double VOTING_FAILURE_SHARE = 0.15;
    /** Local tokens live a day, as `trellis identity token` mints them; the demo rewrites them at half that. */
    private static final Duration TOKEN_LIFETIME = Duration.ofDays(1);

    private final Path dir;
    private final Deque<AutoCloseable> open = new ArrayDeque<>();
    private final java.util.Map<String, Proxy> proxiesByPod = new java.util.concurrent.ConcurrentHashMap<>();
    private Viz viz;
    private VoteBot bot;
    private VizApi api;
    private DashboardServer dashboard;
    private Metrics metrics = Metrics.AUTO;
    private ProxyMode proxyMode = ProxyMode.SIDECAR;
    private String metricsSource = "the embedded scraper";
    private Optional<PrometheusApi> prometheus = Optional.empty();
    private java.net.URI loginLink;
    /** Whoever holds the demo's files is its operator: the demo's logins see everything. */
    private static final Viewer DEMO_VIEWER = new Viewer("demo-operator", List.of(), Viewer.Access.EVERYTHING);
    /** The link the demo prints stays valid this long (links from `trellis viz dashboard`, 5 minutes). */
    private static final Duration FIRST_LOGIN_LIFETIME = Duration.ofHours(1);
    private final Instant started = Instant.now();

    private DemoMesh(Path dir) {
        this.dir = dir;
    }

    /**
     * Starts everything; on failure stops what started and throws with what failed.
     *
     * @throws IllegalStateException when another demo uses {@code dir}
     */
    public static DemoMesh start(Path dir) throws Exception {
        return start(dir, Metrics.AUTO);
    }

    /**
     * Where the metrics API gets the proxies' metrics: {@link #AUTO} a real Prometheus when
     * {@code prometheus} is on PATH (started and configured by the demo), else the embedded
     * scraper; {@link #EMBEDDED} always the embedded scraper; or an existing Prometheus at a URL
     * (user:password in the URL for basic auth), which the user points at the demo's scrape
     * bridge (the demo writes the scrape configuration to {@code DIR/prometheus/scrape-config.yml}).
     */
    public record Metrics(Mode mode, Optional<java.net.URI> url) {
        /** Which of the three. */
        public enum Mode { AUTO, EMBEDDED, EXTERNAL }

        public static final Metrics AUTO = new Metrics(Mode.AUTO, Optional.empty());
        public static final Metrics EMBEDDED = new Metrics(Mode.EMBEDDED, Optional.empty());

        public static Metrics external(java.net.URI url) {
            return new Metrics(Mode.EXTERNAL, Optional.of(url));
        }
    }

    /** Starts everything, with the proxies' metrics from {@code metrics}; on failure stops what started and throws with what failed. */
    public static DemoMesh start(Path dir, Metrics metrics) throws Exception {
        return start(dir, metrics, ProxyMode.SIDECAR);
    }

    /**
     * As {@link #start(Path, Metrics)}; with {@link ProxyMode#NODE} every workload's proxy runs
     * hosted on one node proxy's shared loops and discovery thread, as a node proxy runs them
     * (each keeps its own identity, certificate, listeners, policy and metrics).
     */
    public static DemoMesh start(Path dir, Metrics metrics, ProxyMode proxyMode) throws Exception {
        DemoMesh demo = new DemoMesh(dir.toAbsolutePath().normalize());
        demo.metrics = metrics;
        demo.proxyMode = proxyMode;
        try {
            demo.startAll();
            return demo;
        } catch (Exception | Error e) {
            demo.close();
            throw e;
        }
    }

    private void startAll() throws Exception {
        Files.createDirectories(dir);
        lock();
        Clock clock = Clock.systemUTC();
        Path pki = fresh(dir.resolve("pki"));
        Path tokens = fresh(dir.resolve("tokens"));
        Path state = fresh(dir.resolve("state"));
        Path logs = fresh(dir.resolve("logs"));

        // A PKI of its own, as `trellis identity bootstrap` makes.
        Instant now = Instant.now();
        CaCredentials anchor = CaCertificates.newTrustAnchor(TRUST_DOMAIN, CaCertificates.DEFAULT_ANCHOR_LIFETIME, now);
        CaCredentials issuer = CaCertificates.newIssuer(anchor, TRUST_DOMAIN, CaCertificates.DEFAULT_ISSUER_LIFETIME, now);
        Path anchorFile = pki.resolve("trust-anchor.pem");
        Pem.writePublic(anchorFile, Pem.encodeCertificates(List.of(anchor.certificate())), true);
        Pem.writePublic(pki.resolve("issuer.pem"), Pem.encodeCertificates(issuer.chain()), true);
        Pem.writeSecret(pki.resolve("issuer-key.pem"), Pem.encodePrivateKey(issuer.key()), true);
        KeyPair tokenKey = EcKeys.generateP256();
        DemoTokens tokenFiles = new DemoTokens(tokens, tokenKey.getPrivate(), TOKEN_LIFETIME, clock);
        open.push(tokenFiles);
        TrustAnchors anchors = TrustAnchors.read(anchorFile);

        IdentityServer identity = IdentityServer.start(IdentityServerConfig.builder(TRUST_DOMAIN, anchorFile, pki.resolve("issuer.pem"), pki.resolve("issuer-key.pem"))
                        .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build(),
                new LocalTokenAuthenticator(tokenKey.getPublic(), clock),
                AuditLog.to(new FileOutputStream(logs.resolve("identity-audit.log").toFile(), true)), clock);
        open.push(identity);
        HostPort identityAddress = new HostPort("127.0.0.1", identity.grpcAddress().getPort());
        WorkloadIdentity identityName = ControlPlaneComponent.IDENTITY.identity(TRUST_DOMAIN);

        // The destination service, on the state directory, with a certificate from the identity service.
        LocalDirectorySource cluster = LocalDirectorySource.start(state, Duration.ofMillis(300));
        open.push(cluster);
        DestinationServerConfig destinationConfig = DestinationServerConfig.builder(TRUST_DOMAIN)
                .listen(new HostPort("127.0.0.1", 0)).admin(new HostPort("127.0.0.1", 0)).build();
        CredentialsStore destinationCredentials = certified(destinationConfig.identity(), anchors, identityAddress, identityName, tokenFiles, clock);
        DestinationServer destination = DestinationServer.start(destinationConfig, cluster, destinationCredentials, clock);
        open.push(destination);
        HostPort destinationAddress = new HostPort("127.0.0.1", destination.grpcAddress().getPort());

        // The sample app.
        EmojiApp emoji0 = EmojiApp.start("emoji-0");
        open.push(emoji0);
        EmojiApp emoji1 = EmojiApp.start("emoji-1");
        open.push(emoji1);
        VotingApp voting = VotingApp.start(VOTING_FAILURE_SHARE);
        open.push(voting);

        Optional<ProxyHost> nodeProxy = Optional.empty();
        if (proxyMode == ProxyMode.NODE) {
            nodeProxy = Optional.of(ProxyHost.start(2));
            open.push(nodeProxy.get());
        }
        ProxyFactory factory = new ProxyFactory(anchorFile, identityAddress, identityName, destinationAddress, destinationConfig.identity(), tokenFiles, logs,
                nodeProxy);
        Proxy emoji0Proxy = factory.start("emoji", "emoji-0", List.of());
        Proxy emoji1Proxy = factory.start("emoji", "emoji-1", List.of());
        Proxy votingProxy = factory.start("voting", "voting-0", List.of());
        Proxy webProxy = factory.start("web", "web-0", List.of(
                Forward.parse("0=http://emoji-svc.emojivoto.svc.cluster.local:8080"),
                Forward.parse("0=http://voting-svc.emojivoto.svc.cluster.local:8080")));
        WebApp web = WebApp.start(webProxy.forwardAddress(0).getPort(), webProxy.forwardAddress(1).getPort());
        open.push(web);
        Proxy botProxy = factory.start("vote-bot", "vote-bot-0", List.of(Forward.parse("0=http://web-svc.emojivoto.svc.cluster.local:80")));

        List<DemoManifests.PodSpec> pods = List.of(
                new DemoManifests.PodSpec("web", "web-0", "web", "http", web.port(), webProxy.inboundAddress().getPort(), webProxy.tapAddress().orElseThrow().getPort()),
                new DemoManifests.PodSpec("emoji", "emoji-0", "emoji", "grpc", emoji0.port(), emoji0Proxy.inboundAddress().getPort(), emoji0Proxy.tapAddress().orElseThrow().getPort()),
                new DemoManifests.PodSpec("emoji", "emoji-1", "emoji", "grpc", emoji1.port(), emoji1Proxy.inboundAddress().getPort(), emoji1Proxy.tapAddress().orElseThrow().getPort()),
                new DemoManifests.PodSpec("voting", "voting-0", "voting", "grpc", voting.port(), votingProxy.inboundAddress().getPort(), votingProxy.tapAddress().orElseThrow().getPort()),
                new DemoManifests.PodSpec("vote-bot", "vote-bot-0", "vote-bot", "http", 8080, botProxy.inboundAddress().getPort(), botProxy.tapAddress().orElseThrow().getPort()));
        Files.writeString(state.resolve("emojivoto.yaml"), DemoManifests.app(pods));
        Files.writeString(state.resolve("policy.yaml"), DemoManifests.policy());
        Files.writeString(state.resolve("routes.yaml"), DemoManifests.routes());
        Files.writeString(state.resolve("canary.yaml"), DemoManifests.canary());

        // The metrics API: scrapes every proxy over mTLS as the viz identity.
        WorkloadIdentity vizIdentity = ControlPlaneComponent.VIZ.identity(TRUST_DOMAIN);
        CredentialsStore vizCredentials = certified(vizIdentity, anchors, identityAddress, identityName, tokenFiles, clock);
        MeshScraper scraper = new MeshScraper(MeshSslContexts.forClient(anchors, Optional.of(vizCredentials), List.of("h2"), clock), Duration.ofSeconds(3));
        open.push(scraper);
        TapClient tapClient = new TapClient(MeshSslContexts.forGrpcClient(anchors, Optional.of(vizCredentials), clock));
        Optional<Viz.Collector> fromPrometheus = prometheusCollector(cluster, scraper, logs, clock);
        // Reading Prometheus twice per scrape keeps viz at most a second behind it.
        viz = fromPrometheus.isPresent() ? Viz.start(cluster, fromPrometheus.get(), tapClient, TRUST_DOMAIN, METRICS_INTERVAL.dividedBy(2), clock)
                : Viz.start(cluster, scraper, tapClient, TRUST_DOMAIN, METRICS_INTERVAL, clock);
        open.push(viz);
        // The dashboard, behind a login: the demo mints the first one-time link; `trellis viz dashboard` asks the API for more.
        LoginCodes codes = new LoginCodes(Duration.ofMinutes(5), clock);
        dashboard = DashboardServer.start(DashboardConfig.builder().build(), viz, codes,
                new dev.trellis.viz.MeshChecks(viz, new DemoControlPlane(identity.adminAddress(), destination.adminAddress()),
                        () -> Optional.of(issuer.certificate().getNotAfter().toInstant()), clock),
                TRUST_DOMAIN, clock);
        open.push(dashboard);
        loginLink = dashboard.loginLink(codes.mint(DEMO_VIEWER, FIRST_LOGIN_LIFETIME));
        api = VizApi.start(viz, 0, VizApi.randomToken(), Optional.of(() -> dashboard.loginLink(codes.mint(DEMO_VIEWER))));
        open.push(api);
        VizApiFile.write(dir.resolve("viz-api"), api);

        // Where the control plane listens, for anyone who wants to add a proxy or a viz of their own.
        Files.writeString(dir.resolve("control-plane.env"), "# trellis demo's control plane (this run)\n"
                + "TRELLIS_IDENTITY_ADDR=" + identityAddress + "\n"
                + "TRELLIS_DESTINATION_ADDR=" + destinationAddress + "\n"
                + "TRELLIS_TRUST_ANCHOR=" + anchorFile + "\n"
                + "TRELLIS_TOKENS=" + tokens + "\n"
                + "TRELLIS_STATE=" + state + "\n");

        // Traffic starts once the destination service has read the manifests, so the first votes find their endpoints.
        long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (cluster.current().pods().size() < pods.size() && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        bot = VoteBot.start(botProxy.forwardAddress(0).getPort(), 4, Duration.ofMillis(40));
        open.push(bot);
    }

    /** How often the proxies' metrics are taken: by Prometheus's scrapes, or by the embedded scraper. */
    private static final Duration METRICS_INTERVAL = Duration.ofSeconds(2);

    /**
     * A real Prometheus when asked for or found on PATH: it scrapes every proxy through viz's
     * scrape bridge (mTLS as the viz identity) and viz reads the samples back with PromQL.
     * Empty: the embedded scraper.
     */
    private Optional<Viz.Collector> prometheusCollector(LocalDirectorySource cluster, MeshScraper scraper, Path logs, Clock clock) throws Exception {
        Optional<Path> binary = DemoPrometheus.onPath();
        if (metrics.mode() == Metrics.Mode.EMBEDDED || metrics.mode() == Metrics.Mode.AUTO && binary.isEmpty()) {
            metricsSource = "the embedded scraper" + (metrics.mode() == Metrics.Mode.AUTO ? " (no prometheus on PATH)" : "");
            return Optional.empty();
        }
        String token = VizApi.randomToken();
        ScrapeBridge bridge = ScrapeBridge.start(cluster, scraper, TRUST_DOMAIN, new HostPort("127.0.0.1", 0), token);
        open.push(bridge);
        Path promDir = fresh(dir.resolve("prometheus"));
        Files.setPosixFilePermissions(promDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        PrometheusApi api;
        if (metrics.url().isPresent()) {
            java.net.URI url = metrics.url().get();
            Optional<String> user = Optional.ofNullable(url.getUserInfo()).map(u -> u.contains(":") ? u.substring(0, u.indexOf(':')) : u);
            Optional<String> password = Optional.ofNullable(url.getUserInfo()).filter(u -> u.contains(":")).map(u -> u.substring(u.indexOf(':') + 1));
            java.net.URI base = new java.net.URI(url.getScheme(), null, url.getHost(), url.getPort(), url.getPath(), null, null);
            api = new PrometheusApi(base, user, password);
            Path tokenFile = promDir.resolve("bridge-token");
            Files.createFile(tokenFile, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tokenFile, token);
            Path snippet = promDir.resolve("scrape-config.yml");
            Files.writeString(snippet, dev.trellis.viz.prometheus.ScrapeJob.jobText(bridge.targetsUrl(), tokenFile.toString(), METRICS_INTERVAL));
            metricsSource = "Prometheus at " + base + " (add the scrape job in " + snippet + " to its scrape_configs)";
        } else {
            DemoPrometheus started = DemoPrometheus.start(binary.orElseThrow(), promDir, bridge.targetsUrl(), token, METRICS_INTERVAL, logs.resolve("prometheus.log"));
            open.push(started);
            api = started.api();
            metricsSource = "Prometheus " + api.base() + " (user " + DemoPrometheus.USER + ", password in " + promDir.resolve("password")
                    + "), scraping every proxy over mTLS through viz";
        }
        prometheus = Optional.of(api);
        return Optional.of(new dev.trellis.viz.prometheus.PrometheusCollector(api, clock));
    }

    /** Where the proxies' metrics come from, as the demo prints it. */
    public String metricsSource() {
        return metricsSource;
    }

    /** The Prometheus the metrics API reads, when there is one. */
    public Optional<PrometheusApi> prometheus() {
        return prometheus;
    }

    /** Starts proxies with the demo's control plane, each as its own pod. */
    private final class ProxyFactory {
        private final Path anchorFile;
        private final HostPort identityAddress;
        private final WorkloadIdentity identityName;
        private final HostPort destinationAddress;
        private final WorkloadIdentity destinationName;
        private final DemoTokens tokens;
        private final Path logs;
        /** In node mode, the one host every proxy runs on. */
        private final Optional<ProxyHost> host;

        ProxyFactory(Path anchorFile, HostPort identityAddress, WorkloadIdentity identityName, HostPort destinationAddress,
                     WorkloadIdentity destinationName, DemoTokens tokens, Path logs, Optional<ProxyHost> host) {
            this.host = host;
            this.anchorFile = anchorFile;
            this.identityAddress = identityAddress;
            this.identityName = identityName;
            this.destinationAddress = destinationAddress;
            this.destinationName = destinationName;
            this.tokens = tokens;
            this.logs = logs;
        }

        Proxy start(String serviceAccount, String pod, List<Forward> forwards) throws Exception {
            WorkloadIdentity identity = new WorkloadIdentity(TRUST_DOMAIN, DemoManifests.NAMESPACE, serviceAccount);
            Path token = tokens.fileFor(identity);
            ProxyConfig config = ProxyConfig.builder(identity)
                    .trustAnchorFile(anchorFile).tokenFile(token)
                    .identityService(identityAddress).identityServiceName(identityName)
                    .destinationService(destinationAddress).destinationServiceName(destinationName)
                    .inbound(new HostPort("127.0.0.1", 0)).outbound(Optional.empty()).admin(new HostPort("127.0.0.1", 0))
                    .tap(Optional.of(new HostPort("127.0.0.1", 0))).forwards(forwards)
                    .appHost(Optional.of("127.0.0.1"))
                    .connectTimeout(Duration.ofSeconds(2)).shutdownGrace(Duration.ofSeconds(2))
                    .connectionLogFile(Optional.of(logs.resolve(pod + "-connections.log")))
                    .workload(Optional.of(pod))
                    .build();
            Proxy proxy = host.isPresent() ? Proxy.hostedLocally(config, Clock.systemUTC(), host.get()) : Proxy.start(config, Clock.systemUTC());
            proxiesByPod.put(pod, proxy);
            return proxy;
        }
    }

    private CredentialsStore certified(WorkloadIdentity self, TrustAnchors anchors, HostPort identityAddress, WorkloadIdentity identityName,
                                       DemoTokens tokens, Clock clock) throws Exception {
        CredentialsStore store = new CredentialsStore(self, anchors, clock);
        IdentityClient client = new IdentityClient(IdentityClient.Config.defaults(self, identityAddress, identityName, tokens.fileFor(self)), store, clock);
        client.start();
        open.push(client);
        store.firstInstalled().get(20, TimeUnit.SECONDS);
        return store;
    }

    /** Empties (or makes) a directory the demo owns. */
    private static Path fresh(Path path) throws IOException {
        if (Files.exists(path)) {
            try (var walk = Files.walk(path)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    if (!p.equals(path)) {
                        Files.delete(p);
                    }
                }
            }
        }
        return Files.createDirectories(path);
    }

    private void lock() throws IOException {
        Path lockFile = dir.resolve("demo.lock");
        FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            String holder = Files.readString(lockFile).strip();
            channel.close();
            throw new IllegalStateException("demo: another demo is running with its files in " + dir
                    + (holder.isEmpty() ? "" : " (pid " + holder + ")") + "; stop it first, or give this one another --dir");
        }
        channel.truncate(0);
        channel.write(java.nio.ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid()).getBytes()));
        FileLock held = lock;
        open.push(() -> {
            held.release();
            channel.close();
            Files.deleteIfExists(lockFile);
        });
    }

    public Path directory() {
        return dir;
    }

    public Path stateDirectory() {
        return dir.resolve("state");
    }

    /** When the first vote succeeded end to end (vote bot -> web -> emoji and voting, every hop over mTLS). */
    public CompletableFuture<Instant> firstSuccessfulRequest() {
        return bot.firstSuccess();
    }

    public Duration uptime() {
        return Duration.between(started, Instant.now());
    }

    /** The dashboard's address. */
    public java.net.URI dashboardUrl() {
        return dashboard.url();
    }

    /** The one-time link the demo printed: opening it logs in (once, within an hour). */
    public java.net.URI loginLink() {
        return loginLink;
    }

    /** Golden metrics of the demo's deployments, from the proxies' metrics. */
    public List<StatRow> stat() {
        return viz.stat(Viz.Resource.DEPLOY, Optional.of(DemoManifests.NAMESPACE), Optional.empty());
    }

    /** The admin listener (loopback: /metrics, /ready) of {@code pod}'s proxy. */
    public java.net.InetSocketAddress proxyAdmin(String pod) {
        return proxiesByPod.get(pod).adminAddress();
    }

    /** Who called whom in the last minute. */
    public List<Viz.EdgeRow> edges() {
        return viz.edges(Optional.of(DemoManifests.NAMESPACE));
    }

    /** Per-route metrics of calls to {@code service} of the demo's namespace. */
    public List<dev.trellis.viz.MetricsWindow.RouteRow> routes(String service) {
        return viz.routes(service, DemoManifests.NAMESPACE);
    }

    /** Golden metrics of the demo's Deployment {@code name} over {@code range}, as the dashboard's charts show them. */
    public List<dev.trellis.viz.GoldenHistory.Sample> history(String name, dev.trellis.viz.GoldenHistory.Range range) {
        return viz.history(DemoManifests.NAMESPACE, dev.trellis.cluster.Workloads.Workload.DEPLOYMENT, name, range);
    }

    /** Golden metrics by {@code resource} over {@code window}, for tests and scripts that cannot wait a minute. */
    public List<StatRow> stat(Viz.Resource resource, Duration window) {
        return viz.stat(resource, Optional.of(DemoManifests.NAMESPACE), Optional.empty(), window);
    }

    /** Whether the workloads' proxies are sidecars or hosted on one node proxy. */
    public ProxyMode proxyMode() {
        return proxyMode;
    }

    /** Stops everything: traffic first, then the proxies (draining in parallel), then the apps and the control plane. */
    @Override
    public void close() {
        // Traffic and the API go first, so that no new request starts while the proxies drain.
        List<AutoCloseable> rest = new ArrayList<>();
        while (!open.isEmpty()) {
            AutoCloseable next = open.pop();
            if (next instanceof VoteBot || next instanceof VizApi || next instanceof DashboardServer || next instanceof Viz || next instanceof DemoPrometheus) {
                closeQuietly(next);
            } else {
                rest.add(next);
            }
        }
        List<CompletableFuture<Void>> draining = proxiesByPod.values().stream().map(p -> CompletableFuture.runAsync(p::shutdown)).toList();
        CompletableFuture.allOf(draining.toArray(CompletableFuture[]::new)).orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> null).join();
        rest.forEach(DemoMesh::closeQuietly);
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // stopping anyway
        }
    }
}
