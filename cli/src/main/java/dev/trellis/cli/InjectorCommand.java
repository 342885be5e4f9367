package dev.trellis.cli;

import dev.trellis.admin.AdminServer;
import dev.trellis.core.net.HostPort;
import dev.trellis.core.settings.NativeSidecarMode;
import dev.trellis.injector.PodInjector;
import dev.trellis.injector.webhook.AdmissionHandler;
import dev.trellis.injector.webhook.InjectorMetrics;
import dev.trellis.injector.webhook.InjectorServer;
import dev.trellis.injector.webhook.NamespaceCache;
import dev.trellis.tls.pki.TrustAnchors;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.VersionInfo;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code trellis injector}: the proxy-injector admission webhook, until SIGTERM. */
@Command(name = "injector", mixinStandardHelpOptions = true, description = {
        "Run the proxy-injector: an HTTPS admission webhook (POST /inject) that adds proxy-init and the proxy to pods",
        "labelled trellis.dev/inject=enabled (the pod or its namespace). `trellis install` deploys it with its",
        "MutatingWebhookConfiguration; the serving certificate files are reloaded when they change."})
final class InjectorCommand implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(InjectorCommand.class);

    @Mixin
    InjectionOptions injection;

    @Option(names = "--trust-anchors", required = true, paramLabel = "FILE",
            description = "The mesh's PEM trust anchors (the trust-anchor ConfigMap, mounted); re-read when it changes. Every injected proxy gets them.")
    Path trustAnchors;

    @Option(names = "--tls-cert", required = true, paramLabel = "FILE", description = "The webhook's serving certificate (PEM, then its chain).")
    Path tlsCertificate;

    @Option(names = "--tls-key", required = true, paramLabel = "FILE", description = "The serving certificate's key (PEM).")
    Path tlsKey;

    @Option(names = "--listen", defaultValue = "0.0.0.0:8443", paramLabel = "HOST:PORT", description = "The webhook's HTTPS listener (default: ${DEFAULT-VALUE}).")
    HostPort listen;

    @Option(names = "--admin", defaultValue = "127.0.0.1:9998", paramLabel = "HOST:PORT", description = "Admin listener: /live /ready /metrics (default: ${DEFAULT-VALUE}).")
    HostPort admin;

    @Option(names = "--probe", paramLabel = "HOST:PORT", description = "Also answer /live and /ready (nothing else) here, for the kubelet. Default: no such listener.")
    HostPort probe;

    @Option(names = "--native-sidecar", defaultValue = "auto", paramLabel = "auto|true|false",
            description = "Inject the proxy as a native sidecar (an init container that keeps running). auto: when the API server is Kubernetes 1.29 or later (default: ${DEFAULT-VALUE}).")
    String nativeSidecar;

    @Override
    public Integer call() throws Exception {
        Config config = Config.autoConfigure(null);
        config.setConnectionTimeout(5_000);
        config.setRequestTimeout(5_000);
        // An admission waits on at most one read of the API, bounded by its own deadline: no retries behind its back.
        config.setRequestRetryBackoffLimit(0);
        KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
        boolean nativeSidecars = switch (nativeSidecarMode()) {
            case TRUE -> true;
            case FALSE -> false;
            case AUTO -> supportsNativeSidecars(client.getKubernetesVersion());
        };
        log.info("injector: proxies are injected as {}", nativeSidecars ? "native sidecars" : "first containers with a postStart hook");
        ReloadingInjector injectors = new ReloadingInjector(trustAnchors, pem -> new PodInjector(injection.config(pem, nativeSidecars).build()));
        PrometheusRegistry registry = new PrometheusRegistry();
        ExecutorService work = Executors.newVirtualThreadPerTaskExecutor();
        NamespaceCache namespaces = NamespaceCache.start(client, work);
        AdmissionHandler handler = new AdmissionHandler(injectors, namespaces, new InjectorMetrics(registry), work);
        InjectorServer server = InjectorServer.start(listen, tlsCertificate, tlsKey, handler);
        // Ready (an endpoint of the webhook's Service) once it serves a valid certificate and knows the namespaces.
        AdminServer adminServer = AdminServer.builder("injector").listen(admin).probes(Optional.ofNullable(probe)).registry(registry)
                .readiness(() -> server.notReadyReason().or(namespaces::notReadyReason)).build().start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            adminServer.close();
            server.close();
            namespaces.close();
            work.shutdownNow();
            client.close();
            stopped.countDown();
        }, "trellis-injector-shutdown"));
        stopped.await();
        return 0;
    }

    /** {@code --native-sidecar} by the rule install applies. */
    NativeSidecarMode nativeSidecarMode() {
        try {
            return NativeSidecarMode.parse(nativeSidecar);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("injector: --native-sidecar: " + e.getMessage(), e);
        }
    }

    /** Native sidecars (restartPolicy Always on init containers) are on by default from Kubernetes 1.29. */
    static boolean supportsNativeSidecars(VersionInfo version) {
        String major = version == null || version.getMajor() == null ? "" : version.getMajor().replaceAll("[^0-9].*$", "");
        String minor = version == null || version.getMinor() == null ? "" : version.getMinor().replaceAll("[^0-9].*$", "");
        if (major.isEmpty()) {
            throw new IllegalStateException("injector: the API server did not say its version, so --native-sidecar auto cannot decide; "
                    + "give --native-sidecar true or false");
        }
        return Integer.parseInt(major) > 1 || (!minor.isEmpty() && Integer.parseInt(minor) >= 29);
    }

    /**
     * The pod mutation for the trust anchors currently in the file: looked at every 10 s and
     * rebuilt when they changed (a root rotation adds a second anchor to the ConfigMap); an
     * unreadable file keeps the last good anchors.
     */
    static final class ReloadingInjector implements Supplier<PodInjector> {
        private final Path file;
        private final java.util.function.Function<String, PodInjector> build;
        private volatile String pem;
        private volatile PodInjector current;
        private volatile long checkedAt;

        ReloadingInjector(Path file, java.util.function.Function<String, PodInjector> build) throws java.io.IOException {
            this.file = file;
            this.build = build;
            this.pem = read();
            this.current = build.apply(pem);
            this.checkedAt = System.currentTimeMillis();
        }

        @Override
        public PodInjector get() {
            long now = System.currentTimeMillis();
            if (now - checkedAt >= 10_000) {
                synchronized (this) {
                    if (now - checkedAt >= 10_000) {
                        checkedAt = now;
                        try {
                            String next = read();
                            if (!next.equals(pem)) {
                                current = build.apply(next);
                                pem = next;
                                log.info("injector: trust anchors changed in {}; new pods get them", file);
                            }
                        } catch (java.io.IOException | RuntimeException e) {
                            log.warn("injector: keeping the previous trust anchors: {}", e.getMessage());
                        }
                    }
                }
            }
            return current;
        }

        private String read() throws java.io.IOException {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            TrustAnchors.parse(text, file.toString());
            return text;
        }
    }
}
