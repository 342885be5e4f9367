package dev.trellis.tls.pki;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.core.identity.WorkloadIdentity;

/**
 * The identity service's CSR checks on bytes from the network: any input is either refused
 * with a {@link CsrRejectedException} or accepted as a request for exactly the identity asked
 * for — no other exception, no partial acceptance.
 */
class CsrValidatorFuzzTest {

    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");
    private final CsrValidator validator = new CsrValidator();

    @FuzzTest(maxDuration = "20s")
    void refusesOrAcceptsExactlyTheIdentity(byte[] der) {
        try {
            ValidatedCsr accepted = validator.validate(der, WEB);
            assertThat(accepted.identity()).isEqualTo(WEB);
        } catch (CsrRejectedException refused) {
            assertThat(refused.getMessage()).startsWith("csr: ");
        }
    }
}
