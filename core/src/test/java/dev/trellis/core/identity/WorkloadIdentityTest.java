package dev.trellis.core.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class WorkloadIdentityTest {

    @Test
    void spellsBothFormsOfTheSameIdentity() {
        WorkloadIdentity id = new WorkloadIdentity("cluster.local", "emojivoto", "web");
        assertThat(id.spiffeId()).isEqualTo("spiffe://cluster.local/ns/emojivoto/sa/web");
        assertThat(id.dnsName()).isEqualTo("web.emojivoto.serviceaccount.identity.trellis.cluster.local");
        assertThat(WorkloadIdentity.parseSpiffeId(id.spiffeId())).isEqualTo(id);
        assertThat(WorkloadIdentity.parseDnsName(id.dnsName())).isEqualTo(id);
    }

    @Test
    void serviceAccountsMayContainDots() {
        WorkloadIdentity id = WorkloadIdentity.parseDnsName("my.sa.prod.serviceaccount.identity.trellis.example.org");
        assertThat(id.serviceAccount()).isEqualTo("my.sa");
        assertThat(id.namespace()).isEqualTo("prod");
        assertThat(id.trustDomain()).isEqualTo("example.org");
    }

    @Test
    void refusesSpiffeIdsWithExtraPathSegments() {
        assertThatThrownBy(() -> WorkloadIdentity.parseSpiffeId("spiffe://cluster.local/ns/a/sa/b/c"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("spiffe://<trust-domain>/ns/<ns>/sa/<sa>");
    }

    @Test
    void refusesNamesKubernetesWouldRefuse() {
        assertThatThrownBy(() -> new WorkloadIdentity("cluster.local", "Upper", "web"))
                .hasMessageContaining("namespace 'Upper'");
        assertThatThrownBy(() -> new WorkloadIdentity("cluster.local", "ns", "-web"))
                .hasMessageContaining("service account '-web'");
        assertThatThrownBy(() -> new WorkloadIdentity("cluster..local", "ns", "web"))
                .hasMessageContaining("trust domain");
        assertThatThrownBy(() -> new WorkloadIdentity("cluster.local", "a".repeat(64), "web"))
                .hasMessageContaining("at most 63");
    }

    @Test
    void refusesOverlongInputWithoutEchoingIt() {
        String huge = "spiffe://" + "a".repeat(5000);
        assertThatThrownBy(() -> WorkloadIdentity.parseSpiffeId(huge))
                .hasMessage("identity: SPIFFE ID longer than 2048 characters");
    }

    @Test
    void replacesControlCharactersInErrors() {
        assertThatThrownBy(() -> WorkloadIdentity.parseSpiffeId("spiffe://x/ns/a\n/sa/b"))
                .hasMessageNotContaining("\n");
    }
}
