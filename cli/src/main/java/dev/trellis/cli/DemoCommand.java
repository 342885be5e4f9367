package dev.trellis.cli;

import dev.trellis.demo.DemoMesh;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code trellis demo}: the whole mesh on this machine, with a live table, until Ctrl-C or --duration. */
@Command(mixinStandardHelpOptions = true, name = "demo", description = {
        "Run the whole mesh on this machine: identity and destination services, the metrics API, and a sample app",
        "(web, emoji x2, voting, a vote bot), each workload with its own proxy and mTLS identity. No Kubernetes, no root.",
        "Ctrl-C stops it and leaves nothing behind."})
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--dir", paramLabel = "DIR", description = "Where the demo keeps its files, cluster state included (default: ~/.trellis/demo).")
    Path dir;

    @Option(names = "--duration", description = "Stop by itself after this long (e.g. 30s); default: run until Ctrl-C.")
    Duration duration;

    @Option(names = "--prometheus", defaultValue = "auto", paramLabel = "auto|off|URL",
            description = "Where the metrics API reads the proxies' metrics: auto (default) starts a real Prometheus when `prometheus` is on PATH "
                    + "(Debian's package), else the embedded scraper; off: the embedded scraper; a URL: that Prometheus (user:password@ for basic auth), "
                    + "which you point at the demo's scrape bridge with the job the demo writes to DIR/prometheus/scrape-config.yml.")
    String prometheus;

    @Option(names = "--proxy-mode", defaultValue = "sidecar", paramLabel = "sidecar|node",
            description = {"sidecar (default): a proxy per workload, each with its own event loop and threads, as sidecars run;",
                    "node: every workload's proxy hosted on one node proxy's shared loops, each still with its own identity (docs/node-mode.md)."})
    String proxyMode;

    @Option(names = "--refresh", defaultValue = "2s", description = "How often the live table is printed (default: ${DEFAULT-VALUE}).")
    Duration refresh;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        Path home = dir != null ? dir : Path.of(System.getProperty("user.home"), ".trellis", "demo");
        if (java.nio.file.Files.exists(home) && !java.nio.file.Files.isDirectory(home)) {
            throw new IllegalArgumentException("demo: --dir " + home + " is a file; give a directory (it is made if missing)");
        }
        long began = System.nanoTime();
        out.println("trellis demo: starting the control plane, 5 workloads and their proxies in " + home + " ...");
        DemoMesh.Metrics metrics = switch (prometheus) {
            case "auto" -> DemoMesh.Metrics.AUTO;
            case "off" -> DemoMesh.Metrics.EMBEDDED;
            default -> {
                java.net.URI url = java.net.URI.create(prometheus);
                if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme()) || url.getHost() == null) {
                    throw new IllegalArgumentException("demo: --prometheus '" + prometheus + "' is not auto, off or an http(s) URL");
                }
                yield DemoMesh.Metrics.external(url);
            }
        };
        DemoMesh demo = DemoMesh.start(home, metrics, dev.trellis.core.settings.ProxyMode.parse(proxyMode));
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            demo.close();
            stopped.countDown();
        }, "trellis-demo-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.printf("trellis demo: running (started in %.1f s). Every call below crosses real sockets with mTLS between proxies.%n",
                (System.nanoTime() - began) / 1e9);
        try {
            java.time.Instant first = demo.firstSuccessfulRequest().get(30, TimeUnit.SECONDS);
            long jvmStart = java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
            out.printf("trellis demo: first successful request through the mesh %.1f s after the JVM started.%n", (first.toEpochMilli() - jvmStart) / 1000.0);
        } catch (java.util.concurrent.TimeoutException e) {
            out.println("trellis demo: no request has succeeded yet after 30 s; see " + home.resolve("logs"));
        }
        out.println("  proxies:       " + (demo.proxyMode() == dev.trellis.core.settings.ProxyMode.NODE
                ? "one node proxy hosting every workload's proxy (--proxy-mode node)" : "one sidecar per workload"));
        out.println("  metrics:       " + demo.metricsSource());
        out.println("  dashboard:     " + demo.dashboardUrl() + "  (log in with the one-time link below; `./trellis viz dashboard` prints a new one)");
        out.println("  login link:    " + demo.loginLink() + "  (works once, within an hour)");
        out.println("  cluster state: " + demo.stateDirectory() + "  (edit policy.yaml: deny web -> voting, and watch;"
                + " canary.yaml: shift emoji to v2, and `./trellis viz routes emoji-svc`)");
        out.println("  try:           ./trellis viz stat deploy     ./trellis viz stat pod -o json");
        out.println("  stop:          Ctrl-C" + (duration != null ? " (or wait " + duration.toSeconds() + " s)" : ""));
        long deadline = duration == null ? Long.MAX_VALUE : System.nanoTime() + duration.toNanos();
        boolean tty = System.console() != null;
        while (System.nanoTime() < deadline) {
            long wait = Math.min(refresh.toMillis(), Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            if (stopped.await(wait, TimeUnit.MILLISECONDS)) {
                return 0;
            }
            if (tty) {
                out.print("\033[H\033[2J");
                out.println("trellis demo — " + demo.stateDirectory() + " — up " + demo.uptime().toSeconds() + " s — Ctrl-C stops");
            } else {
                out.println("--- up " + demo.uptime().toSeconds() + " s");
            }
            out.print(StatTable.render(demo.stat(), true));
            out.flush();
        }
        out.println("trellis demo: --duration reached; stopping.");
        Runtime.getRuntime().removeShutdownHook(hook);
        demo.close();
        out.println("trellis demo: stopped.");
        return 0;
    }

}
