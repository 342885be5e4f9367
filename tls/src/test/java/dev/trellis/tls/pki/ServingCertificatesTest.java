package dev.trellis.tls.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServingCertificatesTest {

    private final Instant now = Instant.parse("2026-11-28T00:00:00Z");

    @Test
    void aServingCertificateNamesItsHostsAndChainsToItsOwnCaOnly() throws Exception {
        CaCredentials ca = ServingCertificates.newCa("webhook.trellis", Duration.ofDays(3650), now);
        ServingCertificates.Serving serving = ServingCertificates.issue(ca,
                List.of("trellis-injector.trellis.svc", "trellis-injector.trellis.svc.cluster.local"), Duration.ofDays(365), now);
        X509Certificate leaf = serving.certificate();
        assertThat(leaf.getSubjectAlternativeNames().stream().map(n -> (Object) n.get(1)).toList())
                .containsExactly("trellis-injector.trellis.svc", "trellis-injector.trellis.svc.cluster.local");
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
        TrustAnchors.of(List.of(ca.certificate())).verify(List.of(leaf), now.plusSeconds(60));

        CaCredentials other = ServingCertificates.newCa("webhook.trellis", Duration.ofDays(3650), now);
        assertThatThrownBy(() -> TrustAnchors.of(List.of(other.certificate())).verify(List.of(leaf), now.plusSeconds(60)))
                .isInstanceOf(CertificateException.class);
    }

    @Test
    void aServingCertificateLivesNoLongerThanItsCaAndNeedsAName() {
        CaCredentials ca = ServingCertificates.newCa("webhook.trellis", Duration.ofDays(30), now);
        ServingCertificates.Serving serving = ServingCertificates.issue(ca, List.of("a.example"), Duration.ofDays(365), now);
        assertThat(serving.certificate().getNotAfter()).isEqualTo(ca.certificate().getNotAfter());
        assertThatThrownBy(() -> ServingCertificates.issue(ca, List.of(), Duration.ofDays(1), now))
                .hasMessageContaining("at least one DNS name");
    }
}
