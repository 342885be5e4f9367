package dev.trellis.tls.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.core.identity.WorkloadIdentity;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.Test;

class LeafIssuerTest {

    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");
    private final Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    private final CaCredentials anchor = CaCertificates.newTrustAnchor("cluster.local", Duration.ofDays(365), now);
    private final CaCredentials issuer = CaCertificates.newIssuer(anchor, "cluster.local", Duration.ofDays(30), now);
    private final TrustAnchors anchors = TrustAnchors.of(List.of(anchor.certificate()));

    @Test
    void issuesLeafWithBothSansThatVerifiesAgainstTheAnchor() throws Exception {
        IssuedLeaf leaf = issue(WEB, Duration.ofHours(24), now);
        X509Certificate cert = leaf.leaf();
        assertThat(cert.getSubjectAlternativeNames().stream().map(n -> (Object) n.get(1)).toList())
                .containsExactly(WEB.spiffeId(), WEB.dnsName());
        assertThat(cert.getBasicConstraints()).isEqualTo(-1);
        assertThat(cert.getKeyUsage()[0]).as("digitalSignature").isTrue();
        assertThat(cert.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(cert.getNotBefore().toInstant()).isEqualTo(now.minus(LeafIssuer.CLOCK_SKEW));
        assertThat(leaf.notAfter()).isEqualTo(now.plus(Duration.ofHours(24)));
        assertThat(anchors.verifyLeaf(leaf.chain(), now)).isEqualTo(WEB);
    }

    @Test
    void neverIssuesPastTheIssuersExpiry() throws Exception {
        IssuedLeaf leaf = issue(WEB, Duration.ofDays(300), now);
        assertThat(leaf.notAfter()).isEqualTo(issuer.certificate().getNotAfter().toInstant());
    }

    @Test
    void refusesToSignWithAnExpiredIssuer() {
        Instant later = issuer.certificate().getNotAfter().toInstant().plusSeconds(1);
        assertThatThrownBy(() -> issue(WEB, Duration.ofHours(1), later))
                .isInstanceOf(LeafIssuer.IssuerExpiredException.class)
                .hasMessageContaining("expired at");
    }

    @Test
    void chainsFromAnotherAnchorDoNotVerify() throws Exception {
        CaCredentials otherAnchor = CaCertificates.newTrustAnchor("cluster.local", Duration.ofDays(365), now);
        CaCredentials otherIssuer = CaCertificates.newIssuer(otherAnchor, "cluster.local", Duration.ofDays(30), now);
        KeyPair keys = EcKeys.generateP256();
        IssuedLeaf foreign = new LeafIssuer(otherIssuer).issue(new CsrValidator().validate(CertificateRequests.create(keys, WEB), WEB), Duration.ofHours(1), now);
        assertThatThrownBy(() -> anchors.verify(foreign.chain(), now))
                .hasMessageContaining("does not verify against the trust anchors");
    }

    @Test
    void expiredLeavesDoNotVerify() throws Exception {
        IssuedLeaf leaf = issue(WEB, Duration.ofMinutes(1), now);
        assertThatThrownBy(() -> anchors.verify(leaf.chain(), now.plus(Duration.ofMinutes(2))))
                .hasMessageContaining("does not verify");
    }

    private IssuedLeaf issue(WorkloadIdentity identity, Duration lifetime, Instant at) throws Exception {
        KeyPair keys = EcKeys.generateP256();
        return new LeafIssuer(issuer).issue(new CsrValidator().validate(CertificateRequests.create(keys, identity), identity), lifetime, at);
    }
}
