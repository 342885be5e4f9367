package dev.trellis.viz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The query layer the CLI and the dashboard share, over a mesh whose traffic is known. */
class VizQueriesTest {

    private final TestMesh mesh = new TestMesh();
    private Viz viz;

    @BeforeEach
    void start() throws Exception {
        mesh.pod("shop", "web", "web-0", "web", new TestMesh.Traffic(10, 1.0, Map.of("shop/api-svc", 20.0)));
        mesh.pod("shop", "api", "api-0", "api", new TestMesh.Traffic(10, 0.5, Map.of()));
        mesh.pod("shop", "api", "api-1", "api", new TestMesh.Traffic(10, 0.5, Map.of()));
        mesh.pod("shop", "db", "db-0", "db", new TestMesh.Traffic(10, 1.0, Map.of(), "db-sql", 2, 5));
        mesh.service("shop", "api-svc", "api");
        viz = mesh.viz(Clock.systemUTC());
    }

    @AfterEach
    void stop() {
        viz.close();
    }

    @Test
    void workloadsByKindCarryTheRatesTheProxiesCounted() {
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            var rows = viz.stat(Viz.Resource.WORKLOAD, Optional.of("shop"), Optional.empty(), Duration.ofSeconds(5));
            assertThat(rows).extracting(StatRow::kind, StatRow::name).containsExactly(
                    org.assertj.core.groups.Tuple.tuple("Deployment", "api"), org.assertj.core.groups.Tuple.tuple("Deployment", "db"),
                    org.assertj.core.groups.Tuple.tuple("Deployment", "web"));
            StatRow api = rows.getFirst();
            assertThat(api.meshed()).isEqualTo("2/2");
            assertThat(api.rps()).isCloseTo(20, within(3.0));
            assertThat(api.successRate()).isCloseTo(0.5, within(0.1));
        });
        assertThat(viz.stat(Viz.Resource.DEPLOY, Optional.of("shop"), Optional.empty())).extracting(StatRow::name).containsExactly("api", "db", "web");
    }

    @Test
    void theCallGraphJoinsCallersToTheWorkloadsBehindTheServiceTheyCalled() {
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(viz.topology("shop")).singleElement().satisfies(call -> {
            assertThat(call.src()).isEqualTo(new Viz.Node("shop", "Deployment", "web"));
            assertThat(call.dst()).isEqualTo(new Viz.Node("shop", "Deployment", "api"));
            assertThat(call.service()).isEqualTo("api-svc");
            assertThat(call.rps()).isCloseTo(20, within(3.0));
            assertThat(call.successRate()).isEqualTo(1.0);
        }));
        assertThat(viz.topology("elsewhere")).as("neither end in that namespace").isEmpty();
    }

    @Test
    void authzShowsWhatPolicyDeniedAndWhatAuditModeWouldHaveDeniedPerWorkload() {
        Awaitility.await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(viz.authz("shop")).singleElement().satisfies(row -> {
            assertThat(row.workload()).isEqualTo("db");
            assertThat(row.server()).isEqualTo("db-sql");
            assertThat(row.denied()).isPositive();
            assertThat(row.wouldDeny()).isGreaterThan(row.denied());
        }));
    }

    @Test
    void historyGetsAPointPerStepOnceScrapesSpanTime() {
        Awaitility.await().atMost(Duration.ofSeconds(15)).untilAsserted(() ->
                assertThat(viz.history("shop", "Deployment", "api", GoldenHistory.Range.FIVE_MINUTES)).isNotEmpty()
                        .allSatisfy(sample -> assertThat(sample.rps()).as("no point from a single scrape").isPositive()));
        assertThat(viz.certificates()).hasSize(4).allSatisfy(c -> assertThat(c.notAfter()).isAfter(java.time.Instant.now()));
    }
}
