package dev.trellis.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.core.identity.WorkloadIdentity;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** What an inbound port allows while its policy is unknown. */
class InboundPolicyFallbackTest {

    private static final Optional<WorkloadIdentity> WEB = Optional.of(new WorkloadIdentity("cluster.local", "emojivoto", "web"));

    private static boolean connection(InboundPolicy.Fallback fallback, int port, Optional<WorkloadIdentity> client) throws Exception {
        InboundPolicy policy = new InboundPolicy(Optional.empty(), Duration.ofSeconds(1), Set.of(5432), Set.of(), fallback,
                new PolicyMetrics(new PrometheusRegistry()), new InboundRateLimiter(System::nanoTime), "cluster.local");
        AtomicReference<Boolean> allowed = new AtomicReference<>();
        policy.connection(port, client, InetAddress.getLoopbackAddress(), Runnable::run, allowed::set);
        return allowed.get();
    }

    @Test
    void allUnauthenticatedKeepsTheRequireIdentityPorts() throws Exception {
        assertThat(connection(InboundPolicy.Fallback.ALL_UNAUTHENTICATED, 8080, Optional.empty())).isTrue();
        assertThat(connection(InboundPolicy.Fallback.ALL_UNAUTHENTICATED, 5432, Optional.empty())).isFalse();
        assertThat(connection(InboundPolicy.Fallback.ALL_UNAUTHENTICATED, 5432, WEB)).isTrue();
    }

    @Test
    void allAuthenticatedAndDenyAreStricter() throws Exception {
        assertThat(connection(InboundPolicy.Fallback.ALL_AUTHENTICATED, 8080, Optional.empty())).isFalse();
        assertThat(connection(InboundPolicy.Fallback.ALL_AUTHENTICATED, 8080, WEB)).isTrue();
        assertThat(connection(InboundPolicy.Fallback.DENY, 8080, WEB)).isFalse();
    }

    @Test
    void anIdentityOfAnotherTrustDomainIsNotAuthenticatedHere() throws Exception {
        Optional<WorkloadIdentity> evil = Optional.of(new WorkloadIdentity("evil.example", "emojivoto", "web"));
        assertThat(connection(InboundPolicy.Fallback.ALL_AUTHENTICATED, 8080, evil)).isFalse();
        assertThat(connection(InboundPolicy.Fallback.ALL_UNAUTHENTICATED, 5432, evil)).isFalse();
    }

    @Test
    void everyDefaultPolicyTheAnnotationTakesStartsAProxy() {
        // The injector passes config.trellis.dev/default-inbound-policy on: each name it accepts must be one the proxy takes.
        for (dev.trellis.core.settings.DefaultInboundPolicy policy : dev.trellis.core.settings.DefaultInboundPolicy.values()) {
            assertThat(InboundPolicy.Fallback.of(policy)).as("%s", policy).isNotNull();
        }
        assertThat(InboundPolicy.Fallback.of(dev.trellis.core.settings.DefaultInboundPolicy.CLUSTER_AUTHENTICATED)).isEqualTo(InboundPolicy.Fallback.ALL_AUTHENTICATED);
        assertThat(InboundPolicy.Fallback.of(dev.trellis.core.settings.DefaultInboundPolicy.AUDIT)).isEqualTo(InboundPolicy.Fallback.ALL_UNAUTHENTICATED);
    }

    @Test
    void anUnknownValueIsNamed() {
        assertThatThrownBy(() -> dev.trellis.core.settings.DefaultInboundPolicy.parse("open")).hasMessageContaining("'open'").hasMessageContaining("all-authenticated");
    }
}
