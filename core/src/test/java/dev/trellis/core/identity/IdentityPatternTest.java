package dev.trellis.core.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class IdentityPatternTest {

    private static final WorkloadIdentity FRONT = new WorkloadIdentity("cluster.local", "shop", "front");
    private static final WorkloadIdentity EVIL_FRONT = new WorkloadIdentity("evil.example", "shop", "front");

    @Test
    void anExactIdentityFromAnotherTrustDomainDoesNotMatch() {
        assertThat(IdentityPattern.exactly(FRONT).matches(FRONT)).isTrue();
        assertThat(IdentityPattern.exactly(FRONT).matches(EVIL_FRONT)).isFalse();
        assertThat(IdentityPattern.exactly(FRONT).matches(new WorkloadIdentity("cluster.local", "shop", "back"))).isFalse();
        assertThat(IdentityPattern.exactly(FRONT).matches(new WorkloadIdentity("cluster.local", "shop2", "front"))).isFalse();
    }

    @Test
    void starMeansAnyoneInTheLocalTrustDomainOnly() {
        IdentityPattern any = IdentityPattern.parse("*", "cluster.local");
        assertThat(any.matches(FRONT)).isTrue();
        assertThat(any.matches(EVIL_FRONT)).isFalse();
    }

    @Test
    void namespaceAndTrustDomainWildcardsCompareTheTrustDomain() {
        IdentityPattern shop = IdentityPattern.parse("spiffe://cluster.local/ns/shop/sa/*", "cluster.local");
        assertThat(shop.matches(FRONT)).isTrue();
        assertThat(shop.matches(EVIL_FRONT)).isFalse();
        assertThat(shop.matches(new WorkloadIdentity("cluster.local", "shopping", "front"))).isFalse();

        IdentityPattern evil = IdentityPattern.parse("spiffe://evil.example/*", "cluster.local");
        assertThat(evil.matches(EVIL_FRONT)).isTrue();
        assertThat(evil.matches(FRONT)).isFalse();
    }

    @Test
    void anExactSpiffeIdParsesToThatIdentity() {
        assertThat(IdentityPattern.parse(FRONT.spiffeId(), "other.domain")).isEqualTo(IdentityPattern.exactly(FRONT));
    }

    @Test
    void refusesTextThatIsNoPattern() {
        assertThatThrownBy(() -> IdentityPattern.parse("ns/shop/sa/", "cluster.local"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("identity pattern 'ns/shop/sa/'");
        assertThatThrownBy(() -> IdentityPattern.parse("spiffe://Bad_Domain/*", "cluster.local"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
