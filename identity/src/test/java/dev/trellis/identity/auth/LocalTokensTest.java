package dev.trellis.identity.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.EcKeys;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class LocalTokensTest {

    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");
    private final KeyPair key = EcKeys.generateP256();
    private final Instant now = Instant.parse("2026-11-26T12:00:00Z");

    @Test
    void aMintedTokenProvesItsServiceAccount() throws Exception {
        String token = LocalTokens.mint(key.getPrivate(), WEB, Duration.ofHours(1), now);
        assertThat(LocalTokens.verify(key.getPublic(), token, "cluster.local", now.plusSeconds(60)).identity()).isEqualTo(WEB);
    }

    @Test
    void aTokenBoundToAPodNamesItAndAnUnboundOneNone() throws Exception {
        String bound = LocalTokens.mint(key.getPrivate(), WEB, java.util.Optional.of("web-0"), Duration.ofHours(1), now);
        assertThat(LocalTokens.verify(key.getPublic(), bound, "cluster.local", now).pod()).contains("web-0");
        String unbound = LocalTokens.mint(key.getPrivate(), WEB, Duration.ofHours(1), now);
        assertThat(LocalTokens.verify(key.getPublic(), unbound, "cluster.local", now).pod()).isEmpty();
    }

    @Test
    void theTrustDomainIsTheVerifiersNotTheTokens() throws Exception {
        String token = LocalTokens.mint(key.getPrivate(), WEB, Duration.ofHours(1), now);
        assertThat(LocalTokens.verify(key.getPublic(), token, "example.org", now).identity().trustDomain()).isEqualTo("example.org");
    }

    @Test
    void refusesExpiredTokens() {
        String token = LocalTokens.mint(key.getPrivate(), WEB, Duration.ofMinutes(1), now);
        assertThatThrownBy(() -> LocalTokens.verify(key.getPublic(), token, "cluster.local", now.plus(Duration.ofMinutes(2))))
                .isInstanceOf(AuthenticationException.class)
                .hasMessageStartingWith("local token: expired at");
    }

    @Test
    void refusesTokensSignedWithAnotherKey() {
        String token = LocalTokens.mint(EcKeys.generateP256().getPrivate(), WEB, Duration.ofHours(1), now);
        assertThatThrownBy(() -> LocalTokens.verify(key.getPublic(), token, "cluster.local", now))
                .hasMessage("local token: signature does not verify with the token key");
    }

    @Test
    void refusesTamperedClaims() {
        String token = LocalTokens.mint(key.getPrivate(), WEB, Duration.ofHours(1), now);
        String[] parts = token.split("\\.");
        String claims = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8).replace(":web", ":db");
        String forged = parts[0] + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(claims.getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
        assertThatThrownBy(() -> LocalTokens.verify(key.getPublic(), forged, "cluster.local", now))
                .hasMessageContaining("signature does not verify");
    }

    @Test
    void refusesAlgNone() {
        String header = Base64.getUrlEncoder().withoutPadding().encodeToString("{\"alg\":\"none\"}".getBytes(StandardCharsets.UTF_8));
        String token = LocalTokens.mint(key.getPrivate(), WEB, Duration.ofHours(1), now);
        String forged = header + token.substring(token.indexOf('.'));
        assertThatThrownBy(() -> LocalTokens.verify(key.getPublic(), forged, "cluster.local", now))
                .hasMessage("local token: alg must be ES256, got 'none'");
    }

    @Test
    void refusesMalformedAndOversizedTokens() {
        assertThatThrownBy(() -> LocalTokens.verify(key.getPublic(), "", "cluster.local", now)).hasMessage("local token: no token");
        assertThatThrownBy(() -> LocalTokens.verify(key.getPublic(), "a.b", "cluster.local", now)).hasMessageContaining("three dot-separated parts");
        assertThatThrownBy(() -> LocalTokens.verify(key.getPublic(), "!!.b.c", "cluster.local", now)).hasMessageContaining("header is not base64url JSON");
        assertThatThrownBy(() -> LocalTokens.verify(key.getPublic(), "a".repeat(LocalTokens.MAX_TOKEN_LENGTH + 1), "cluster.local", now))
                .hasMessageContaining("over the 4096-character limit");
    }

    @Test
    void refusesAbsurdLifetimes() {
        assertThatThrownBy(() -> LocalTokens.mint(key.getPrivate(), WEB, Duration.ofDays(400), now)).hasMessageContaining("at most 366 days");
        assertThatThrownBy(() -> LocalTokens.mint(key.getPrivate(), WEB, Duration.ZERO, now)).hasMessageContaining("must be positive");
    }
}
