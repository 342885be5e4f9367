package dev.trellis.viz.prometheus;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.text.UntrustedText;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Prometheus's HTTP API, as viz asks it: PromQL at an instant ({@code /api/v1/query}), over
 * a range ({@code /api/v1/query_range}), and whether it is ready. Basic auth when Prometheus
 * asks for it (the demo's does). Answers above {@value #MAX_ANSWER_BYTES} bytes are refused,
 * each call has a 10 s deadline, and every failure names the query and what Prometheus said.
 * Thread-safe.
 */
public final class PrometheusApi {

    static final long MAX_ANSWER_BYTES = 256L * 1024 * 1024;
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    /** One series: its labels, and its samples (time, value), oldest first. */
    public record Series(Map<String, String> labels, List<Sample> samples) {}

    public record Sample(Instant at, double value) {}

    private final URI base;
    private final Optional<String> authorization;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private final JsonMapper json = JsonMapper.builder().build();

    /** {@code base}: where Prometheus answers ({@code http://127.0.0.1:9090}, a trailing slash or not); {@code user}/{@code password} when it wants basic auth. */
    public PrometheusApi(URI base, Optional<String> user, Optional<String> password) {
        // Relative API paths resolve under the base's path only when it ends with a slash: decided here, once.
        String text = requireNonNull(base, "base").toString();
        this.base = text.endsWith("/") ? base : URI.create(text + "/");
        this.authorization = user.map(u -> "Basic " + Base64.getEncoder().encodeToString((u + ":" + password.orElse("")).getBytes(StandardCharsets.UTF_8)));
    }

    public URI base() {
        return base;
    }

    /** Whether Prometheus says it is ready ({@code /-/ready} answers 200). */
    public boolean ready() {
        try {
            return send(base.resolve("-/ready")).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** {@code query} evaluated at {@code at}: a vector's series (one sample each) or a matrix's (a range selector's raw samples). */
    public List<Series> query(String query, Instant at) throws IOException, InterruptedException {
        return parse(query, get("api/v1/query?query=" + encode(query) + "&time=" + seconds(at), query));
    }

    /** {@code query} evaluated every {@code step} from {@code start} to {@code end}. */
    public List<Series> queryRange(String query, Instant start, Instant end, Duration step) throws IOException, InterruptedException {
        return parse(query, get("api/v1/query_range?query=" + encode(query) + "&start=" + seconds(start) + "&end=" + seconds(end)
                + "&step=" + step.toMillis() / 1000.0, query));
    }

    private JsonNode get(String path, String query) throws IOException, InterruptedException {
        HttpResponse<InputStream> response = send(base.resolve(path));
        byte[] body;
        try (InputStream in = response.body()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, MAX_ANSWER_BYTES + 1));
        }
        if (body.length > MAX_ANSWER_BYTES) {
            throw new IOException("prometheus: the answer to " + UntrustedText.printable(query, 120) + " is over " + MAX_ANSWER_BYTES + " bytes");
        }
        JsonNode answer;
        try {
            answer = json.readTree(body);
        } catch (RuntimeException e) {
            throw new IOException("prometheus at " + base + " answered " + response.statusCode() + " with no JSON to " + UntrustedText.printable(query, 120));
        }
        if (response.statusCode() != 200 || !"success".equals(answer.path("status").asString(""))) {
            throw new IOException("prometheus at " + base + " answered " + response.statusCode() + " to " + UntrustedText.printable(query, 120) + ": "
                    + UntrustedText.printable(answer.path("error").asString(new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8)), 200));
        }
        return answer.path("data");
    }

    private HttpResponse<InputStream> send(URI uri) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(TIMEOUT);
        authorization.ifPresent(a -> request.header("Authorization", a));
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (java.net.ConnectException e) {
            throw new IOException("prometheus at " + base + " does not answer: " + e.getMessage(), e);
        }
    }

    private static List<Series> parse(String query, JsonNode data) throws IOException {
        String type = data.path("resultType").asString("");
        List<Series> out = new ArrayList<>();
        for (JsonNode result : data.path("result")) {
            Map<String, String> labels = new LinkedHashMap<>();
            result.path("metric").properties().forEach(e -> labels.put(e.getKey(), e.getValue().asString()));
            List<Sample> samples = new ArrayList<>();
            switch (type) {
                case "vector" -> samples.add(sample(result.path("value")));
                case "matrix" -> result.path("values").forEach(v -> samples.add(sample(v)));
                default -> throw new IOException("prometheus: " + UntrustedText.printable(query, 120) + " gave a " + UntrustedText.printable(type, 20)
                        + ", not a vector or matrix");
            }
            out.add(new Series(labels, samples));
        }
        return out;
    }

    private static Sample sample(JsonNode pair) {
        double seconds = pair.get(0).asDouble();
        String value = pair.get(1).asString();
        double parsed = switch (value) {
            case "NaN" -> Double.NaN;
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(value);
        };
        return new Sample(Instant.ofEpochMilli(Math.round(seconds * 1000)), parsed);
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }

    private static String seconds(Instant at) {
        return Double.toString(at.toEpochMilli() / 1000.0);
    }
}
