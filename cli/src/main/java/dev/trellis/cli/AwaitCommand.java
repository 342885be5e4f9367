package dev.trellis.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code trellis await URL}: polls an HTTP endpoint on this host until it answers 200. The
 * injector runs it as the proxy container's postStart hook where the cluster has no native
 * sidecars, so the kubelet starts the app's containers only once the proxy is ready.
 */
@Command(name = "await", mixinStandardHelpOptions = true,
        description = "Wait until URL (http:// on loopback, e.g. the proxy's /ready) answers 200; exit 1 when --timeout passes first.")
final class AwaitCommand implements Callable<Integer> {

    @Parameters(paramLabel = "URL", description = "http://127.0.0.1:PORT/PATH or http://[::1]:PORT/PATH.")
    URI url;

    @Option(names = "--timeout", defaultValue = "120s", description = "How long to wait in all. Default 120s.")
    Duration timeout;

    @Option(names = "--interval", defaultValue = "200ms", description = "Pause between attempts. Default 200ms.")
    Duration interval;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!"http".equals(url.getScheme()) || url.getHost() == null
                || !(url.getHost().equals("127.0.0.1") || url.getHost().equals("[::1]") || url.getHost().equals("localhost"))) {
            throw new IllegalArgumentException("await: " + url + " is not an http:// URL on loopback");
        }
        Instant deadline = Instant.now().plus(timeout);
        String last = "no answer yet";
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build()) {
            while (true) {
                try {
                    HttpResponse<String> response = http.send(HttpRequest.newBuilder(url).timeout(Duration.ofSeconds(2)).GET().build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (response.statusCode() == 200) {
                        spec.commandLine().getOut().println("await: " + url + " is ready");
                        return 0;
                    }
                    last = "HTTP " + response.statusCode() + " " + response.body().strip().lines().findFirst().orElse("");
                } catch (IOException e) {
                    last = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                }
                if (Instant.now().plus(interval).isAfter(deadline)) {
                    spec.commandLine().getErr().println("trellis: await: " + url + " not ready after " + timeout.toSeconds() + " s: " + last);
                    return 1;
                }
                Thread.sleep(interval);
            }
        }
    }
}
