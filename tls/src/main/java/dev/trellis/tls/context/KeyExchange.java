package dev.trellis.tls.context;

import java.util.List;
import java.util.Locale;

/**
 * The TLS 1.3 key-exchange groups mesh connections offer, most preferred first.
 * {@link #HYBRID}, the default, prefers X25519MLKEM768 — X25519 combined with the ML-KEM-768
 * post-quantum KEM, as Linkerd's proxy does since 2025 — against "harvest now, decrypt
 * later", and keeps X25519 and P-256 for peers without it; {@link #CLASSICAL} offers only
 * the latter two. Applied with BoringSSL; the JDK provider (a fallback where BoringSSL does
 * not load) uses its own defaults.
 */
public enum KeyExchange {
    HYBRID(List.of("X25519MLKEM768", "X25519", "P-256")),
    CLASSICAL(List.of("X25519", "P-256"));

    /** The hybrid group's name as BoringSSL reports it. */
    public static final String HYBRID_GROUP = "X25519MLKEM768";

    private final List<String> groups;

    KeyExchange(List<String> groups) {
        this.groups = groups;
    }

    /** The groups offered, most preferred first. */
    public List<String> groups() {
        return groups;
    }

    /** @throws IllegalArgumentException naming the accepted values */
    public static KeyExchange parse(String text) {
        return switch (text.strip().toLowerCase(Locale.ROOT)) {
            case "hybrid" -> HYBRID;
            case "classical" -> CLASSICAL;
            default -> throw new IllegalArgumentException("'" + text + "' is not a key exchange: hybrid (X25519MLKEM768 first) or classical");
        };
    }
}
