package dev.trellis.cli;

import dev.trellis.core.net.HostPort;
import dev.trellis.core.version.TrellisVersion;
import dev.trellis.tls.context.MeshSslContexts;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code trellis version}: the client's version and, given an admin address, a server's. */
@Command(mixinStandardHelpOptions = true, name = "version", description = "Print the client version and, with --admin, a control-plane component's version.")
final class VersionCommand implements Callable<Integer> {

    private static final Pattern BUILD_INFO = Pattern.compile("trellis_build_info\\{component=\"([^\"]*)\",version=\"([^\"]*)\"}");

    @Spec
    CommandSpec spec;

    @Option(names = "--admin", paramLabel = "HOST:PORT",
            description = "Admin address of a control-plane component (e.g. the identity service's, 127.0.0.1:9990) to ask for its version.")
    HostPort admin;

    @Option(names = "--client", description = "Print only the client version.")
    boolean clientOnly;

    @Override
    public Integer call() throws Exception {
        var out = spec.commandLine().getOut();
        out.println("Client version: " + TrellisVersion.current());
        out.println("Java runtime:   " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")");
        out.println("TLS provider:   " + MeshSslContexts.providerDescription());
        if (clientOnly) {
            return 0;
        }
        if (admin == null) {
            out.println("Server version: unknown (pass --admin HOST:PORT of a control-plane component)");
            return 0;
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        HttpResponse<String> response;
        try {
            response = http.send(HttpRequest.newBuilder(URI.create("http://" + admin + "/metrics")).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new java.io.IOException("version: cannot reach the admin listener at " + admin + ": " + e.getMessage(), e);
        }
        Matcher matcher = BUILD_INFO.matcher(response.body());
        if (response.statusCode() != 200 || !matcher.find()) {
            throw new java.io.IOException("version: " + admin + " answered HTTP " + response.statusCode() + " without trellis_build_info; is it a Trellis admin listener?");
        }
        out.println("Server version: " + matcher.group(2) + " (" + matcher.group(1) + " at " + admin + ")");
        return 0;
    }
}
