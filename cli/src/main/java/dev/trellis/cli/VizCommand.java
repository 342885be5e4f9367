package dev.trellis.cli;

import dev.trellis.viz.StatRow;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.json.JsonMapper;

/** {@code trellis viz …}: observability commands against the metrics API. */
@Command(name = "viz", mixinStandardHelpOptions = true, description = "Golden metrics of meshed workloads, from the viz metrics API.",
        subcommands = {VizCommand.Stat.class})
final class VizCommand {

    /** {@code trellis viz stat [deploy|pod|ns] [name]}. */
    @Command(name = "stat", mixinStandardHelpOptions = true, description = {
            "Success rate, requests per second and latency quantiles over the last minute, from the proxies' metrics.",
            "Works against a running `trellis demo` without flags."})
    static final class Stat implements Callable<Integer> {

        @Parameters(index = "0", defaultValue = "deploy", paramLabel = "RESOURCE", description = "deploy (default), pod or ns.")
        String resource;

        @Parameters(index = "1", arity = "0..1", paramLabel = "NAME", description = "Only this one.")
        String name;

        @Option(names = {"-n", "--namespace"}, description = "Only this namespace.")
        String namespace;

        @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table (default), wide or json.")
        String output;

        @Option(names = "--api-file", paramLabel = "FILE", description = "The metrics API's URL and token (default: ~/.trellis/demo/viz-api, written by trellis demo).")
        Path apiFile;

        @Override
        public Integer call() throws Exception {
            String kind = switch (resource.toLowerCase(Locale.ROOT)) {
                case "deploy", "deployment", "deployments" -> "deploy";
                case "pod", "pods", "po" -> "pod";
                case "ns", "namespace", "namespaces" -> "ns";
                default -> throw new CommandLine.ParameterException(new CommandLine(this), "viz stat: resource '" + resource + "' is not deploy, pod or ns");
            };
            if (!List.of("table", "wide", "json").contains(output)) {
                throw new CommandLine.ParameterException(new CommandLine(this), "viz stat: output '" + output + "' is not table, wide or json");
            }
            Path file = apiFile != null ? apiFile : Path.of(System.getProperty("user.home"), ".trellis", "demo", "viz-api");
            Map<String, String> api;
            try {
                api = Files.readAllLines(file).stream().filter(l -> l.contains("="))
                        .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1)));
            } catch (NoSuchFileException e) {
                throw new IllegalStateException("viz: no metrics API file at " + file + "; is `trellis demo` running? (or pass --api-file)");
            }
            StringBuilder query = new StringBuilder("resource=").append(kind);
            if (namespace != null) {
                query.append("&namespace=").append(URLEncoder.encode(namespace, StandardCharsets.UTF_8));
            }
            if (name != null) {
                query.append("&name=").append(URLEncoder.encode(name, StandardCharsets.UTF_8));
            }
            HttpResponse<String> response;
            try {
                response = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build().send(
                        HttpRequest.newBuilder(URI.create(api.get("url") + "/api/stat?" + query)).header("Authorization", "Bearer " + api.get("token"))
                                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            } catch (java.net.ConnectException e) {
                throw new IllegalStateException("viz: the metrics API at " + api.get("url") + " does not answer; is `trellis demo` still running?");
            }
            if (response.statusCode() != 200) {
                throw new IllegalStateException("viz: the metrics API answered " + response.statusCode() + ": " + response.body());
            }
            if (output.equals("json")) {
                System.out.println(response.body());
                return 0;
            }
            List<StatRow> rows = List.of(JsonMapper.builder().build().readValue(response.body(), StatRow[].class));
            System.out.print(StatTable.render(rows, output.equals("wide")));
            return 0;
        }
    }
}
