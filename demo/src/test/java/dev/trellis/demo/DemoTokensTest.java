package dev.trellis.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.identity.auth.LocalTokenAuthenticator;
import dev.trellis.tls.pki.EcKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoTokensTest {

    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");

    @TempDir
    Path dir;

    @Test
    void tokensAreRewrittenInPlaceBeforeTheyExpireForAsLongAsTheDemoRuns() throws Exception {
        KeyPair key = EcKeys.generateP256();
        try (DemoTokens tokens = new DemoTokens(dir, key.getPrivate(), Duration.ofSeconds(2), Clock.systemUTC())) {
            Path file = tokens.fileFor(WEB);
            assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            String first = Files.readString(file);
            // The verifier allows 20 s of clock skew; a token that passes 20 s from now has not expired now.
            LocalTokenAuthenticator inTwentySeconds = new LocalTokenAuthenticator(key.getPublic(), Clock.offset(Clock.systemUTC(), Duration.ofSeconds(20)));
            // Over three lifetimes, the file always holds a token that verifies now (no skew allowance needed: checked 20 s early).
            long until = System.nanoTime() + Duration.ofSeconds(6).toNanos();
            java.util.Set<String> seen = new java.util.HashSet<>();
            while (System.nanoTime() < until) {
                String token = Files.readString(file);
                seen.add(token);
                assertThat(inTwentySeconds.authenticate(token, "cluster.local")).isEqualTo(WEB);
                Thread.sleep(100);
            }
            assertThat(seen).as("rewritten at half the lifetime").hasSizeGreaterThanOrEqualTo(5).contains(first);
        }
    }
}
