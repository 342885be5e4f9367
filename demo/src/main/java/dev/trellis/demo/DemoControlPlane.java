package dev.trellis.demo;

import dev.trellis.viz.ControlPlaneStatus;
import dev.trellis.viz.Viz;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The demo's control plane as the dashboard's control-plane page shows it: the checks of
 * {@code trellis check} that apply on one machine (each component's {@code /ready}, every
 * proxy scraped, every proxy certificate valid) and the issuer's expiry.
 */
final class DemoControlPlane implements ControlPlaneStatus {

    private final InetSocketAddress identityAdmin;
    private final InetSocketAddress destinationAdmin;
    private final Viz viz;
    private final Instant issuerNotAfter;
    private final Clock clock;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

    DemoControlPlane(InetSocketAddress identityAdmin, InetSocketAddress destinationAdmin, Viz viz, Instant issuerNotAfter, Clock clock) {
        this.identityAdmin = identityAdmin;
        this.destinationAdmin = destinationAdmin;
        this.viz = viz;
        this.issuerNotAfter = issuerNotAfter;
        this.clock = clock;
    }

    @Override
    public List<Check> checks() {
        List<Check> checks = new ArrayList<>();
        checks.add(ready("identity service is ready", identityAdmin));
        checks.add(ready("destination service is ready", destinationAdmin));
        var errors = viz.scrapeErrors();
        checks.add(new Check("every meshed proxy answers viz's scrape over mTLS", errors.isEmpty(),
                errors.isEmpty() ? "all scraped" : errors.size() + " not: " + String.join(", ", errors.keySet())));
        Instant now = clock.instant();
        var certificates = viz.certificates();
        long expired = certificates.stream().filter(c -> !c.notAfter().isAfter(now)).count();
        checks.add(new Check("every proxy's certificate is valid", expired == 0, certificates.size() + " certificates, " + expired + " expired"));
        checks.add(new Check("the issuer certificate is valid for more than 60 days", issuerNotAfter.isAfter(now.plus(Duration.ofDays(60))),
                "valid until " + issuerNotAfter));
        return checks;
    }

    @Override
    public Optional<Instant> issuerNotAfter() {
        return Optional.of(issuerNotAfter);
    }

    private Check ready(String name, InetSocketAddress admin) {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.getPort() + "/ready"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            return new Check(name, response.statusCode() == 200, "/ready answered " + response.statusCode() + " " + response.body().strip());
        } catch (Exception e) {
            return new Check(name, false, "/ready on " + admin + ": " + e.getMessage());
        }
    }
}
