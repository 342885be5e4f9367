package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One-time login codes: minted for a viewer by whoever may (the demo at start, the metrics API
 * for a caller it authenticated), spent once by the browser that opens the link. Only a hash
 * of each code is kept, so a heap dump shows no usable code. At most {@link #MAX_PENDING}
 * unspent codes; expired ones are swept as new ones are minted. Thread-safe.
 */
public final class LoginCodes {

    /** Unspent codes kept at most: minting beyond is refused until some expire or are spent. */
    public static final int MAX_PENDING = 1_000;

    private record Pending(Viewer viewer, Instant expires) {}

    private final ConcurrentHashMap<String, Pending> pending = new ConcurrentHashMap<>();
    private final Duration lifetime;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();

    public LoginCodes(Duration lifetime, Clock clock) {
        this.lifetime = requireNonNull(lifetime, "lifetime");
        this.clock = requireNonNull(clock, "clock");
    }

    /** A new code for {@code viewer}, valid for the configured lifetime. */
    public String mint(Viewer viewer) {
        return mint(viewer, lifetime);
    }

    /**
     * A new code for {@code viewer}, valid for {@code validFor}.
     *
     * @throws IllegalStateException when {@link #MAX_PENDING} codes are waiting to be spent
     */
    public String mint(Viewer viewer, Duration validFor) {
        Instant now = clock.instant();
        pending.values().removeIf(p -> !p.expires().isAfter(now));
        if (pending.size() >= MAX_PENDING) {
            throw new IllegalStateException("dashboard: " + MAX_PENDING + " login codes are waiting to be used; try again when some expired");
        }
        byte[] bytes = new byte[24];
        random.nextBytes(bytes);
        String code = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        pending.put(hash(code), new Pending(requireNonNull(viewer, "viewer"), now.plus(validFor)));
        return code;
    }

    /** The viewer {@code code} was minted for, if it is known and unexpired; the code is spent either way. */
    Optional<Viewer> spend(String code) {
        if (code == null || code.isEmpty() || code.length() > 64) {
            return Optional.empty();
        }
        Pending found = pending.remove(hash(code));
        return found == null || !found.expires().isAfter(clock.instant()) ? Optional.empty() : Optional.of(found.viewer());
    }

    static String hash(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
