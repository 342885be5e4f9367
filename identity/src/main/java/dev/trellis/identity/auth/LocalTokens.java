package dev.trellis.identity.auth;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.EcKeys;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Local-mode tokens: compact JWS (ES256) signed with the mesh's token key, naming one
 * service account, with audience {@value Authenticator#AUDIENCE}, issue time and expiry.
 *
 * <p>They stand in for Kubernetes service-account tokens where there is no API server
 * ({@code trellis demo}, workloads outside a cluster). Minting needs the private token key;
 * checking needs only its public half.
 */
public final class LocalTokens {

    /** Issuer claim of every local token. */
    public static final String ISSUER = "trellis-local";
    /** The claim naming the pod a token is bound to. */
    static final String POD_CLAIM = "pod";
    /** Longest token accepted, in characters. */
    public static final int MAX_TOKEN_LENGTH = 4096;
    /** Longest lifetime a token may be minted with or claim. */
    public static final Duration MAX_TTL = Duration.ofDays(366);
    /** Allowed difference between the minting and the checking clock. */
    static final Duration CLOCK_SKEW = Duration.ofSeconds(20);

    private static final String HEADER = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
    private static final String SIGNATURE_ALGORITHM = "SHA256withECDSAinP1363Format";
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODER = Base64.getUrlDecoder();
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final SecureRandom RANDOM = new SecureRandom();

    private LocalTokens() {}

    /** Mints a token for {@code identity}'s service account, valid for {@code ttl} from {@code now}. */
    public static String mint(PrivateKey tokenKey, WorkloadIdentity identity, Duration ttl, Instant now) {
        return mint(tokenKey, identity, java.util.Optional.empty(), ttl, now);
    }

    /** As {@link #mint(PrivateKey, WorkloadIdentity, Duration, Instant)}, bound to {@code pod} (in the identity's namespace) when given. */
    public static String mint(PrivateKey tokenKey, WorkloadIdentity identity, java.util.Optional<String> pod, Duration ttl, Instant now) {
        requireNonNull(tokenKey, "tokenKey");
        if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) {
            throw new IllegalArgumentException("token: ttl " + ttl + " must be positive and at most " + MAX_TTL.toDays() + " days");
        }
        ObjectNode claims = JSON.createObjectNode()
                .put("iss", ISSUER)
                .put("aud", Authenticator.AUDIENCE)
                .put("sub", identity.kubernetesUserName())
                .put("iat", now.getEpochSecond())
                .put("exp", now.plus(ttl).getEpochSecond())
                .put("jti", HexFormat.of().formatHex(randomBytes()));
        pod.ifPresent(name -> claims.put(POD_CLAIM, name));
        String signingInput = ENCODER.encodeToString(HEADER.getBytes(StandardCharsets.UTF_8)) + "."
                + ENCODER.encodeToString(JSON.writeValueAsBytes(claims));
        try {
            Signature signer = Signature.getInstance(SIGNATURE_ALGORITHM);
            signer.initSign(tokenKey);
            signer.update(signingInput.getBytes(StandardCharsets.US_ASCII));
            return signingInput + "." + ENCODER.encodeToString(signer.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("token: cannot sign with this key (" + tokenKey.getAlgorithm() + "): " + e.getMessage(), e);
        }
    }

    /**
     * Checks a token's signature, audience and times, and returns the service account it names
     * as an identity of {@code trustDomain}.
     */
    static Caller verify(PublicKey tokenKey, String token, String trustDomain, Instant now) throws AuthenticationException {
        if (token == null || token.isEmpty()) {
            throw unauthenticated("no token");
        }
        if (token.length() > MAX_TOKEN_LENGTH) {
            throw unauthenticated(token.length() + " characters is over the " + MAX_TOKEN_LENGTH + "-character limit");
        }
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3) {
            throw unauthenticated("not a compact JWS (three dot-separated parts)");
        }
        JsonNode header = parseJson(parts[0], "header");
        if (!"ES256".equals(header.path("alg").asString(""))) {
            throw unauthenticated("alg must be ES256, got '" + header.path("alg").asString("") + "'");
        }
        byte[] signature = canonical(parts[2], "signature is not base64url");
        try {
            Signature verifier = Signature.getInstance(SIGNATURE_ALGORITHM);
            verifier.initVerify(tokenKey);
            verifier.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
            if (!verifier.verify(signature)) {
                throw unauthenticated("signature does not verify with the token key");
            }
        } catch (GeneralSecurityException e) {
            throw unauthenticated("signature does not verify: " + e.getMessage());
        }
        JsonNode claims = parseJson(parts[1], "claims");
        if (!ISSUER.equals(claims.path("iss").asString(""))) {
            throw unauthenticated("issuer must be " + ISSUER);
        }
        if (!Authenticator.AUDIENCE.equals(claims.path("aud").asString(""))) {
            throw unauthenticated("audience must be " + Authenticator.AUDIENCE + ", got '" + claims.path("aud").asString("") + "'");
        }
        if (!claims.path("exp").isIntegralNumber() || !claims.path("iat").isIntegralNumber()) {
            throw unauthenticated("iat and exp must be numbers");
        }
        Instant issuedAt = Instant.ofEpochSecond(claims.path("iat").asLong());
        Instant expiry = Instant.ofEpochSecond(claims.path("exp").asLong());
        if (!now.isBefore(expiry.plus(CLOCK_SKEW))) {
            throw unauthenticated("expired at " + expiry);
        }
        if (issuedAt.isAfter(now.plus(CLOCK_SKEW))) {
            throw unauthenticated("issued in the future (" + issuedAt + ")");
        }
        if (Duration.between(issuedAt, expiry).compareTo(MAX_TTL) > 0) {
            throw unauthenticated("lifetime longer than " + MAX_TTL.toDays() + " days");
        }
        WorkloadIdentity identity = ServiceAccountNames.parse(claims.path("sub").asString(""), trustDomain);
        String pod = claims.path(POD_CLAIM).asString("");
        return new Caller(identity, pod.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(pod));
    }

    /**
     * {@code part} decoded, refused unless it is the one spelling the encoder would write:
     * unpadded base64url whose last character carries no stray bits. The JDK decoder accepts
     * several spellings of the same bytes; a token must have exactly one, so that nothing
     * keyed on its text (a deny list, a log search) can be sidestepped by a variant — a fuzz
     * target found a signature whose last character was changed still verifying.
     */
    private static byte[] canonical(String part, String notBase64) throws AuthenticationException {
        byte[] bytes;
        try {
            bytes = DECODER.decode(part);
        } catch (IllegalArgumentException e) {
            throw unauthenticated(notBase64);
        }
        if (!ENCODER.encodeToString(bytes).equals(part)) {
            throw unauthenticated(notBase64 + " (not the canonical unpadded spelling)");
        }
        return bytes;
    }

    private static JsonNode parseJson(String part, String what) throws AuthenticationException {
        try {
            JsonNode node = JSON.readTree(canonical(part, what + " is not base64url JSON"));
            if (node == null || !node.isObject()) {
                throw unauthenticated(what + " is not a JSON object");
            }
            return node;
        } catch (IllegalArgumentException | JacksonException e) {
            throw unauthenticated(what + " is not base64url JSON");
        }
    }

    private static byte[] randomBytes() {
        byte[] bytes = new byte[12];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    private static AuthenticationException unauthenticated(String why) {
        return new AuthenticationException(AuthenticationException.Kind.UNAUTHENTICATED, "local token: " + why);
    }

    /** The token key's public half, for checking. */
    public static PublicKey publicKeyOf(PrivateKey tokenKey) {
        return EcKeys.publicKeyOf(tokenKey);
    }
}
