package dev.trellis.benchmarks;

import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.TestMesh;
import dev.trellis.viz.Viz;
import dev.trellis.viz.web.DashboardConfig;
import dev.trellis.viz.web.DashboardServer;
import dev.trellis.viz.web.LoginCodes;
import dev.trellis.viz.web.Viewer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The dashboard's pages for a big mesh: 1,000 workloads of 10 pods (10,000 pods) in 50
 * namespaces, each workload calling the next one's Service, every pod's proxy "scraped"
 * (generated metrics text, parsed as a real scrape is). Each benchmark is one page's API call
 * through the real server on loopback with a session: its time is the server's time plus one
 * loopback round trip. The bar (issue 22): at most 300 ms per page.
 *
 * <p>{@code java -jar benchmarks/target/benchmarks.jar DashboardPagesBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx2g"})
public class DashboardPagesBenchmark {

    static final int NAMESPACES = 50;
    static final int WORKLOADS_PER_NAMESPACE = 20;
    static final int PODS_PER_WORKLOAD = 10;

    private Viz viz;
    private DashboardServer server;
    private HttpClient http;
    private String cookie;
    private URI base;

    @Setup(Level.Trial)
    public void start() throws Exception {
        TestMesh mesh = new TestMesh();
        for (int n = 0; n < NAMESPACES; n++) {
            String ns = "ns-" + n;
            for (int w = 0; w < WORKLOADS_PER_NAMESPACE; w++) {
                String workload = "w-" + w;
                String next = "w-" + ((w + 1) % WORKLOADS_PER_NAMESPACE);
                mesh.service(ns, workload + "-svc", workload);
                for (int p = 0; p < PODS_PER_WORKLOAD; p++) {
                    mesh.pod(ns, workload, workload + "-" + p, workload, new TestMesh.Traffic(5, 0.99, Map.of(ns + "/" + next + "-svc", 5.0)));
                }
            }
        }
        viz = mesh.viz(Clock.systemUTC(), Duration.ofSeconds(5));
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (viz.stat(Viz.Resource.NS, Optional.of("ns-0"), Optional.empty()).getFirst().rps() == 0) {
            if (System.nanoTime() > until) {
                throw new IllegalStateException("no rates after 60 s");
            }
            Thread.sleep(200);
        }
        LoginCodes codes = new LoginCodes(Duration.ofMinutes(5), Clock.systemUTC());
        server = DashboardServer.start(DashboardConfig.builder().build(), viz, codes, ControlPlaneStatus.NONE, "cluster.local", Clock.systemUTC());
        base = server.url();
        http = HttpClient.newHttpClient();
        HttpResponse<String> login = http.send(HttpRequest.newBuilder(base.resolve("/login")).header("Origin", "http://127.0.0.1:" + base.getPort())
                .POST(HttpRequest.BodyPublishers.ofString("code=" + codes.mint(new Viewer("bench", List.of(), Viewer.Access.EVERYTHING)))).build(),
                HttpResponse.BodyHandlers.ofString());
        String setCookie = login.headers().firstValue("Set-Cookie").orElseThrow(() -> new IllegalStateException("no login: " + login.body()));
        cookie = setCookie.substring(0, setCookie.indexOf(';'));
    }

    @TearDown(Level.Trial)
    public void stop() {
        server.close();
        viz.close();
    }

    private int get(String path) throws Exception {
        HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(base.resolve(path)).header("Cookie", cookie).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        if (response.statusCode() != 200) {
            throw new IllegalStateException(path + ": " + response.statusCode() + " " + new String(response.body()));
        }
        return response.body().length;
    }

    @Benchmark
    public int namespaces() throws Exception {
        return get("/api/namespaces");
    }

    @Benchmark
    public int everyWorkload() throws Exception {
        return get("/api/workloads");
    }

    @Benchmark
    public int workloadsOfANamespace() throws Exception {
        return get("/api/workloads?namespace=ns-7");
    }

    @Benchmark
    public int oneWorkload() throws Exception {
        return get("/api/workload?namespace=ns-7&kind=Deployment&name=w-3&range=5m");
    }

    @Benchmark
    public int topology() throws Exception {
        return get("/api/topology?namespace=ns-7");
    }

    @Benchmark
    public int controlPlane() throws Exception {
        return get("/api/control-plane");
    }
}
