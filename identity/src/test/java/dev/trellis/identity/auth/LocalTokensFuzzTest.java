package dev.trellis.identity.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.EcKeys;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;

/**
 * Local tokens from callers: any text is refused with an {@link AuthenticationException}, or
 * is a token this key signed — a forgery never verifies, and nothing else is thrown. Inputs
 * are either free text or a real token with bytes changed.
 */
class LocalTokensFuzzTest {

    private static final KeyPair KEY = EcKeys.generateP256();
    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");
    private static final Instant NOW = Instant.parse("2026-11-27T12:00:00Z");
    private static final String GENUINE = LocalTokens.mint(KEY.getPrivate(), WEB, Duration.ofHours(1), NOW);

    @FuzzTest(maxDuration = "20s")
    void refusesAnythingButGenuineTokens(FuzzedDataProvider data) {
        String token;
        if (data.consumeBoolean()) {
            token = data.consumeRemainingAsString();
        } else {
            // A genuine token with one character replaced: still a forgery.
            int at = data.consumeInt(0, GENUINE.length() - 1);
            char replacement = data.consumeChar();
            token = GENUINE.substring(0, at) + replacement + GENUINE.substring(at + 1);
        }
        try {
            WorkloadIdentity identity = LocalTokens.verify(KEY.getPublic(), token, "cluster.local", NOW).identity();
            assertThat(token).as("only the genuine token verifies").isEqualTo(GENUINE);
            assertThat(identity).isEqualTo(WEB);
        } catch (AuthenticationException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
    }
}
