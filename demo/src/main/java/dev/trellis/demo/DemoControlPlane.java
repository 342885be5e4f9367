package dev.trellis.demo;

import dev.trellis.viz.ControlPlaneStatus;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

/**
 * The demo's components as the dashboard's control-plane page checks them: each one's
 * {@code /ready} on its loopback admin listener ({@link dev.trellis.viz.MeshChecks} adds what
 * viz sees of the proxies, and the issuer).
 */
final class DemoControlPlane implements java.util.function.Supplier<List<ControlPlaneStatus.Check>> {

    private final InetSocketAddress identityAdmin;
    private final InetSocketAddress destinationAdmin;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

    DemoControlPlane(InetSocketAddress identityAdmin, InetSocketAddress destinationAdmin) {
        this.identityAdmin = identityAdmin;
        this.destinationAdmin = destinationAdmin;
    }

    @Override
    public List<ControlPlaneStatus.Check> get() {
        return List.of(ready("identity service is ready", identityAdmin), ready("destination service is ready", destinationAdmin));
    }

    private ControlPlaneStatus.Check ready(String name, InetSocketAddress admin) {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.getPort() + "/ready"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            return new ControlPlaneStatus.Check(name, response.statusCode() == 200, "/ready answered " + response.statusCode() + " " + response.body().strip());
        } catch (Exception e) {
            return new ControlPlaneStatus.Check(name, false, "/ready on " + admin + ": " + e.getMessage());
        }
    }
}
