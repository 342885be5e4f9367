package dev.trellis.cli;

import dev.trellis.viz.MetricsWindow;
import dev.trellis.viz.StatRow;
import dev.trellis.viz.Viz;
import dev.trellis.viz.VizApiFile;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.json.JsonMapper;

/** {@code trellis viz …}: observability commands against the metrics API. */
@Command(name = "viz", mixinStandardHelpOptions = true, description = "Golden metrics, edges and routes of meshed workloads, from the viz metrics API.",
        subcommands = {VizCommand.Stat.class, VizCommand.Edges.class, VizCommand.Routes.class, VizCommand.Authz.class, VizCommand.Tap.class, VizCommand.Top.class,
                VizCommand.Dashboard.class, VizServeCommand.class})
final class VizCommand {

    /** Where the metrics API is and how the answer is printed: shared by every viz command. */
    static final class ApiOptions {
        @Option(names = {"-n", "--namespace"}, description = "Only this namespace (routes: the service's namespace, default emojivoto).")
        String namespace;

        @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table (default), wide or json.")
        String output;

        @Option(names = "--api-file", paramLabel = "FILE", description = "The metrics API's URL and token (default: ~/.trellis/demo/viz-api, written by trellis demo).")
        Path apiFile;

        /** GETs {@code path} with {@code params} from the metrics API and returns the JSON body. */
        String get(CommandLine.Model.CommandSpec spec, String path, Map<String, String> params) throws Exception {
            return send(spec, "GET", path, params, HttpResponse.BodyHandlers.ofString(), Duration.ofSeconds(10)).body();
        }

        /** POSTs to {@code path} of the metrics API (no body) and returns the JSON body. */
        String post(CommandLine.Model.CommandSpec spec, String path) throws Exception {
            return send(spec, "POST", path, Map.of(), HttpResponse.BodyHandlers.ofString(), Duration.ofSeconds(10)).body();
        }

        /** GETs {@code path}, handing each line of the answer to {@code line} as it arrives. */
        void stream(CommandLine.Model.CommandSpec spec, String path, Map<String, String> params, java.util.function.Consumer<String> line, Duration timeout)
                throws Exception {
            HttpResponse<java.util.stream.Stream<String>> response = send(spec, "GET", path, params, HttpResponse.BodyHandlers.ofLines(), timeout);
            try (java.util.stream.Stream<String> lines = response.body()) {
                lines.forEach(line);
            }
        }

        private <T> HttpResponse<T> send(CommandLine.Model.CommandSpec spec, String method, String path, Map<String, String> params, HttpResponse.BodyHandler<T> handler,
                                         Duration timeout) throws Exception {
            if (!List.of("table", "wide", "json").contains(output)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "viz: output '" + output + "' is not table, wide or json");
            }
            Path file = apiFile != null ? apiFile : Path.of(System.getProperty("user.home"), ".trellis", "demo", "viz-api");
            VizApiFile.Location api;
            try {
                api = VizApiFile.read(file);
            } catch (NoSuchFileException e) {
                throw new IllegalStateException("viz: no metrics API file at " + file + "; is `trellis demo` running? (or pass --api-file)");
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e.getMessage());
            }
            String query = params.entrySet().stream().filter(e -> e.getValue() != null)
                    .map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8)).collect(Collectors.joining("&"));
            HttpResponse<T> response;
            try {
                response = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build().send(
                        HttpRequest.newBuilder(api.url().resolve(path + "?" + query)).header("Authorization", "Bearer " + api.token())
                                .method(method, HttpRequest.BodyPublishers.noBody())
                                .timeout(timeout).build(), handler);
            } catch (java.net.ConnectException e) {
                throw new IllegalStateException("viz: the metrics API at " + api.url() + " does not answer; is `trellis demo` still running?");
            }
            if (response.statusCode() != 200) {
                String detail = response.body() instanceof String text ? ": " + dev.trellis.core.text.UntrustedText.printable(text, 300) : "";
                throw new IllegalStateException("viz: the metrics API answered " + response.statusCode() + detail);
            }
            return response;
        }

        boolean json() {
            return output.equals("json");
        }

        boolean wide() {
            return output.equals("wide");
        }
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** {@code trellis viz stat [deploy|pod|ns] [name]}. */
    @Command(name = "stat", mixinStandardHelpOptions = true, description = {
            "Success rate, requests per second and latency quantiles over the last minute, from the proxies' metrics.",
            "Works against a running `trellis demo` without flags."})
    static final class Stat implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", defaultValue = "deploy", paramLabel = "RESOURCE", description = "deploy (default), workload (every kind), pod or ns.")
        String resource;

        @Parameters(index = "1", arity = "0..1", paramLabel = "NAME", description = "Only this one.")
        String name;

        @Mixin
        ApiOptions api = new ApiOptions();

        @Override
        public Integer call() throws Exception {
            String kind = switch (resource.toLowerCase(Locale.ROOT)) {
                case "deploy", "deployment", "deployments" -> "deploy";
                case "workload", "workloads", "wl" -> "workload";
                case "pod", "pods", "po" -> "pod";
                case "ns", "namespace", "namespaces" -> "ns";
                default -> throw new CommandLine.ParameterException(spec.commandLine(), "viz stat: resource '" + resource + "' is not deploy, workload, pod or ns");
            };
            Map<String, String> params = new LinkedHashMap<>();
            params.put("resource", kind);
            params.put("namespace", api.namespace);
            params.put("name", name);
            String body = api.get(spec, "/api/stat", params);
            spec.commandLine().getOut().print(api.json() ? body + "\n" : StatTable.render(List.of(JSON.readValue(body, StatRow[].class)), api.wide()));
            return 0;
        }
    }

    /**
     * {@code trellis viz dashboard}: a one-time login link to the dashboard, opened in a browser
     * where there is one. Against the demo (or any metrics API file) the API mints it; with
     * {@code --kubernetes} the command port-forwards to the installed viz pod through the API
     * server and trades the kubeconfig's own token for a link for that user, then holds the
     * forward until Ctrl-C.
     */
    @Command(name = "dashboard", mixinStandardHelpOptions = true, description = {
            "Print a one-time login link to the dashboard (golden metrics, topology, live requests) and open it in a browser",
            "where there is one. The link logs in once, within 5 minutes. Works against a running `trellis demo` without flags;",
            "with --kubernetes it port-forwards to the installed dashboard and logs you in with your kubeconfig's token (your RBAC",
            "decides which namespaces you see), until Ctrl-C."})
    static final class Dashboard implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--show", defaultValue = "browser", description = "browser (default: open a browser where there is one, and print the link) or url (only print it).")
        String show;

        @Option(names = "--kubernetes", description = "The dashboard `trellis install` put on the cluster of your kubeconfig.")
        boolean kubernetes;

        @Option(names = "--kubeconfig", paramLabel = "FILE", description = "With --kubernetes: the kubeconfig (default: as kubectl finds it).")
        Path kubeconfig;

        @Option(names = "--context", description = "With --kubernetes: the kubeconfig context (default: the current one).")
        String context;

        @Option(names = "--control-plane-namespace", defaultValue = dev.trellis.core.identity.ControlPlaneComponent.DEFAULT_NAMESPACE,
                description = "With --kubernetes: where the control plane runs (default: ${DEFAULT-VALUE}).")
        String controlPlaneNamespace;

        @Option(names = "--port", defaultValue = "0", description = "With --kubernetes: the local port of the forward (default: any free port).")
        int localPort;

        @Mixin
        ApiOptions api = new ApiOptions();

        /** A local port that reaches a port of a pod, open until closed. */
        interface Forward extends AutoCloseable {
            int localPort();

            @Override
            void close() throws java.io.IOException;
        }

        /** How the command reaches the viz pod: fabric8's port-forward through the API server (tests reach a dashboard directly). */
        @FunctionalInterface
        interface Forwarder {
            Forward open(io.fabric8.kubernetes.client.KubernetesClient client, String namespace, String pod, int port, int localPort) throws java.io.IOException;
        }

        Forwarder forwarder = (client, namespace, pod, port, local) -> {
            io.fabric8.kubernetes.client.LocalPortForward forward = client.pods().inNamespace(namespace).withName(pod).portForward(port, local);
            return new Forward() {
                @Override
                public int localPort() {
                    return forward.getLocalPort();
                }

                @Override
                public void close() throws java.io.IOException {
                    forward.close();
                }
            };
        };

        /** How long the forward is held once the link is printed: until Ctrl-C (tests: not at all). */
        Runnable hold = () -> {
            try {
                new java.util.concurrent.CountDownLatch(1).await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };

        @Override
        public Integer call() throws Exception {
            if (!show.equals("browser") && !show.equals("url")) {
                throw new CommandLine.ParameterException(spec.commandLine(), "viz dashboard: --show '" + show + "' is not browser or url");
            }
            if (kubernetes) {
                return onKubernetes();
            }
            String url = JSON.readTree(api.post(spec, "/api/dashboard/login")).path("url").asString("");
            if (!url.startsWith("http://127.0.0.1:")) {
                throw new IllegalStateException("viz dashboard: the metrics API gave no loopback login link ('"
                        + dev.trellis.core.text.UntrustedText.printable(url, 80) + "')");
            }
            show(url);
            return 0;
        }

        private int onKubernetes() throws Exception {
            io.fabric8.kubernetes.client.Config config = Kubeconfigs.load(kubeconfig, context, "viz dashboard");
            String token = config.getOauthToken() != null ? config.getOauthToken() : config.getAutoOAuthToken();
            if (token == null || token.isBlank()) {
                throw new IllegalStateException("viz dashboard: your kubeconfig gives no bearer token (it may authenticate with a client certificate); "
                        + "the dashboard logs users in with their own token, checked by the API server: use a kubeconfig with a token "
                        + "(OIDC, or `kubectl create token` for a service account)");
            }
            try (io.fabric8.kubernetes.client.KubernetesClient client = new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(config).build()) {
                io.fabric8.kubernetes.api.model.Pod pod = client.pods().inNamespace(controlPlaneNamespace)
                        .withLabels(dev.trellis.install.ControlPlane.vizPodSelector()).list().getItems().stream()
                        .filter(p -> p.getStatus() != null && "Running".equals(p.getStatus().getPhase()))
                        .findFirst()
                        .orElseThrow(() -> new IllegalStateException("viz dashboard: no running viz pod in namespace " + controlPlaneNamespace
                                + "; is the control plane installed (`trellis check`)?"));
                try (Forward forward = forwarder.open(client, controlPlaneNamespace, pod.getMetadata().getName(), dev.trellis.install.ControlPlane.DASHBOARD_PORT,
                        localPort)) {
                    String base = "http://127.0.0.1:" + forward.localPort();
                    HttpResponse<String> answer = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build().send(
                            HttpRequest.newBuilder(java.net.URI.create(base + "/login/token")).header("Authorization", "Bearer " + token)
                                    .timeout(Duration.ofSeconds(15)).POST(HttpRequest.BodyPublishers.noBody()).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (answer.statusCode() != 200) {
                        throw new IllegalStateException("viz dashboard: the dashboard refused your token (" + answer.statusCode() + "): "
                                + dev.trellis.core.text.UntrustedText.printable(JSON.readTree(answer.body()).path("error").asString(answer.body()), 300));
                    }
                    String path = JSON.readTree(answer.body()).path("path").asString("");
                    if (!path.startsWith("/login?code=")) {
                        throw new IllegalStateException("viz dashboard: the dashboard answered no login link");
                    }
                    show(base + path);
                    spec.commandLine().getOut().println("viz dashboard: forwarding " + base + " to " + controlPlaneNamespace + "/"
                            + pod.getMetadata().getName() + ":" + dev.trellis.install.ControlPlane.DASHBOARD_PORT + "; Ctrl-C stops");
                    spec.commandLine().getOut().flush();
                    hold.run();
                }
            }
            return 0;
        }

        private void show(String url) {
            spec.commandLine().getOut().println(url);
            spec.commandLine().getOut().flush();
            boolean display = System.getenv("DISPLAY") != null || System.getenv("WAYLAND_DISPLAY") != null;
            if (show.equals("browser") && display) {
                try {
                    new ProcessBuilder("xdg-open", url).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                } catch (java.io.IOException e) {
                    spec.commandLine().getErr().println("viz dashboard: could not open a browser (" + e.getMessage() + "); open the link above");
                }
            }
        }
    }

    /** {@code trellis viz edges}. */
    @Command(name = "edges", mixinStandardHelpOptions = true, description = "Who called whom in the last minute, with the mesh identity each side presented.")
    static final class Edges implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ApiOptions api = new ApiOptions();

        @Override
        public Integer call() throws Exception {
            Map<String, String> params = new LinkedHashMap<>();
            params.put("namespace", api.namespace);
            String body = api.get(spec, "/api/edges", params);
            if (api.json()) {
                spec.commandLine().getOut().println(body);
                return 0;
            }
            StringBuilder out = new StringBuilder("%-12s %-12s %-11s %-11s %-48s %-48s %s%n".formatted("SRC", "DST", "SRC_NS", "DST_NS", "CLIENT_ID", "SERVER_ID", "SECURED"));
            for (Viz.EdgeRow row : JSON.readValue(body, Viz.EdgeRow[].class)) {
                out.append("%-12s %-12s %-11s %-11s %-48s %-48s %s%n".formatted(row.src(), row.dst(), row.srcNamespace(), row.dstNamespace(),
                        row.clientId(), row.serverId(), row.secured() ? "√" : "×"));
            }
            spec.commandLine().getOut().print(out);
            return 0;
        }
    }

    /** {@code trellis viz routes SERVICE}. */
    @Command(name = "routes", mixinStandardHelpOptions = true, description = {
            "Per-route success, requests per second and latency of calls to a service, from the callers' proxies.",
            "Routes come from the service's HTTPRoutes; unmatched requests are [default]."})
    static final class Routes implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "SERVICE", description = "The Service's name, e.g. web-svc.")
        String service;

        @Mixin
        ApiOptions api = new ApiOptions();

        @Override
        public Integer call() throws Exception {
            Map<String, String> params = new LinkedHashMap<>();
            params.put("service", service);
            params.put("namespace", api.namespace == null ? "emojivoto" : api.namespace);
            String body = api.get(spec, "/api/routes", params);
            if (api.json()) {
                spec.commandLine().getOut().println(body);
                return 0;
            }
            StringBuilder out = new StringBuilder("%-14s %-12s %-44s %-16s %8s %8s %12s %12s %12s%n".formatted("ROUTE", "KIND", "AUTHORITY", "BACKEND",
                    "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"));
            for (MetricsWindow.RouteRow row : JSON.readValue(body, MetricsWindow.RouteRow[].class)) {
                out.append("%-14s %-12s %-44s %-16s %8s %8s %12s %12s %12s%n".formatted(row.route(), row.routeKind().isEmpty() ? "-" : row.routeKind(),
                        row.authority(), row.dstService().isEmpty() ? "-" : row.dstService(),
                        row.successRate() == null ? "-" : String.format(Locale.ROOT, "%.2f%%", row.successRate() * 100),
                        String.format(Locale.ROOT, "%.1f", row.rps()), StatTable.ms(row.latencyP50Ms()), StatTable.ms(row.latencyP95Ms()),
                        StatTable.ms(row.latencyP99Ms())));
            }
            spec.commandLine().getOut().print(out);
            return 0;
        }
    }

    /** {@code trellis viz authz}: what policy refused, and what audit mode let through that enforcement would refuse. */
    @Command(name = "authz", mixinStandardHelpOptions = true, description = {
            "Per workload and Server, the requests and connections policy denied in the last minute,",
            "and those audit mode (accessPolicy: audit) let through that enforcement would deny."})
    static final class Authz implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        ApiOptions api = new ApiOptions();

        @Override
        public Integer call() throws Exception {
            String body = api.get(spec, "/api/authz", Map.of("namespace", api.namespace == null ? "emojivoto" : api.namespace));
            if (api.json()) {
                spec.commandLine().getOut().println(body);
                return 0;
            }
            StringBuilder out = new StringBuilder("%-12s %-24s %-24s %10s %12s%n".formatted("KIND", "WORKLOAD", "SERVER", "DENIED", "WOULD_DENY"));
            for (dev.trellis.viz.Viz.AuthzRow row : JSON.readValue(body, dev.trellis.viz.Viz.AuthzRow[].class)) {
                out.append("%-12s %-24s %-24s %10.0f %12.0f%n".formatted(row.kind(), row.workload(), row.server(), row.denied(), row.wouldDeny()));
            }
            spec.commandLine().getOut().print(out);
            return 0;
        }
    }

    /** The deployment a tap or top target names: {@code deploy/web} or {@code web}. */
    static String deployment(CommandLine.Model.CommandSpec spec, String target) {
        String name = target.startsWith("deploy/") ? target.substring("deploy/".length()) : target;
        if (name.isBlank() || name.contains("/")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "viz: target '" + target + "' is not deploy/NAME or NAME");
        }
        return name;
    }

    /** {@code trellis viz tap TARGET}. */
    @Command(name = "tap", mixinStandardHelpOptions = true, description = {
            "Live requests to a deployment's pods, from their proxies' tap (mTLS, viz identity only): method, authority, path,",
            "status, latency, source and destination identity."})
    static final class Tap implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "TARGET", description = "deploy/NAME or NAME.")
        String target;

        @Option(names = "--max", defaultValue = "100", description = "Stop after this many requests (default: ${DEFAULT-VALUE}).")
        int max;

        @Option(names = "--path", description = "Only paths starting with this.")
        String path;

        @Option(names = "--method", description = "Only this method.")
        String method;

        @Option(names = "--seconds", defaultValue = "30", description = "Stop after this long (default: ${DEFAULT-VALUE}).")
        int seconds;

        @Mixin
        ApiOptions api = new ApiOptions();

        @Override
        public Integer call() throws Exception {
            Map<String, String> params = new LinkedHashMap<>();
            params.put("namespace", api.namespace == null ? "emojivoto" : api.namespace);
            params.put("deploy", deployment(spec, target));
            params.put("max", Integer.toString(max));
            params.put("seconds", Integer.toString(seconds));
            params.put("path", path);
            params.put("method", method);
            api.stream(spec, "/api/tap", params, line -> {
                if (api.json()) {
                    spec.commandLine().getOut().println(line);
                    return;
                }
                dev.trellis.viz.TapLine event = JSON.readValue(line, dev.trellis.viz.TapLine.class);
                String head = "%s id=%d proxy=%s src=%s dst=%s src_id=%s dst_id=%s".formatted(event.kind(), event.id(), event.direction(), event.src(),
                        event.dst(), event.srcIdentity(), event.dstIdentity());
                spec.commandLine().getOut().println(switch (event.kind()) {
                    case "req" -> head + " :method=" + event.method() + " :authority=" + event.authority() + " :path=" + event.path();
                    case "rsp" -> head + " :status=" + event.status() + String.format(Locale.ROOT, " latency=%.1fms", event.latencyMs());
                    default -> head + " grpc-status=" + event.grpcStatus() + String.format(Locale.ROOT, " duration=%.1fms", event.latencyMs())
                            + (event.error() == null ? "" : " error=" + event.error());
                });
            }, Duration.ofSeconds(seconds + 10L));
            return 0;
        }
    }

    /** {@code trellis viz top TARGET}. */
    @Command(name = "top", mixinStandardHelpOptions = true, description = {
            "The busiest request paths of a deployment, from tap: count, best/worst/last latency and success rate,",
            "redrawn every 2 s while it taps (for --seconds)."})
    static final class Top implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "TARGET", description = "deploy/NAME or NAME.")
        String target;

        @Option(names = "--seconds", defaultValue = "10", description = "How long to watch (default: ${DEFAULT-VALUE}).")
        int seconds;

        @Mixin
        ApiOptions api = new ApiOptions();

        /** One row: requests of one source identity for one method and path. */
        static final class Row {
            long count;
            long successes;
            double best = Double.MAX_VALUE;
            double worst;
            double last;
        }

        @Override
        public Integer call() throws Exception {
            Map<String, String> params = new LinkedHashMap<>();
            params.put("namespace", api.namespace == null ? "emojivoto" : api.namespace);
            params.put("deploy", deployment(spec, target));
            params.put("max", "10000");
            params.put("seconds", Integer.toString(seconds));
            Map<Long, String> open = new java.util.HashMap<>();
            Map<Long, Integer> statuses = new java.util.HashMap<>();
            Map<String, Row> rows = new java.util.TreeMap<>();
            long[] lastPrint = {System.nanoTime()};
            api.stream(spec, "/api/tap", params, line -> {
                dev.trellis.viz.TapLine event = JSON.readValue(line, dev.trellis.viz.TapLine.class);
                switch (event.kind()) {
                    case "req" -> {
                        String bare = event.path() == null ? "" : event.path().split("\\?", 2)[0];
                        open.put(event.id(), "%-48s %-7s %s".formatted(event.srcIdentity(), event.method(), bare));
                    }
                    case "rsp" -> statuses.put(event.id(), event.status());
                    default -> {
                        String key = open.remove(event.id());
                        int status = statuses.getOrDefault(event.id(), 0);
                        statuses.remove(event.id());
                        if (key == null) {
                            return;
                        }
                        Row row = rows.computeIfAbsent(key, k -> new Row());
                        row.count++;
                        if (status < 500 && (event.grpcStatus() == null || event.grpcStatus() == 0)) {
                            row.successes++;
                        }
                        row.best = Math.min(row.best, event.latencyMs());
                        row.worst = Math.max(row.worst, event.latencyMs());
                        row.last = event.latencyMs();
                    }
                }
                if (System.nanoTime() - lastPrint[0] > 2_000_000_000L) {
                    lastPrint[0] = System.nanoTime();
                    print(rows);
                }
            }, Duration.ofSeconds(seconds + 10L));
            print(rows);
            return 0;
        }

        private void print(Map<String, Row> rows) {
            StringBuilder out = new StringBuilder("%-48s %-7s %-24s %7s %8s %8s %8s %8s%n".formatted("SOURCE", "METHOD", "PATH", "COUNT", "BEST", "WORST", "LAST", "SUCCESS"));
            rows.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue().count, a.getValue().count)).forEach(entry -> {
                Row row = entry.getValue();
                String[] key = entry.getKey().split("\\s+", 3);
                out.append("%-48s %-7s %-24s %7d %7.0fms %7.0fms %7.0fms %7.1f%%%n".formatted(key[0], key[1], key.length > 2 ? key[2] : "", row.count,
                        row.best, row.worst, row.last, 100.0 * row.successes / row.count));
            });
            spec.commandLine().getOut().print(out);
            spec.commandLine().getOut().println();
            spec.commandLine().getOut().flush();
        }
    }
}
