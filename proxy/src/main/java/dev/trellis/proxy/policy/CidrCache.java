package dev.trellis.proxy.policy;

import dev.trellis.core.net.Cidr;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Parsed CIDRs by their text, so that authorizing a request does not parse the policy's
 * networks again each time. Policies name few networks; past {@value #MAX_ENTRIES} distinct
 * texts the cache starts over. One per policy user; thread-safe.
 */
final class CidrCache {

    static final int MAX_ENTRIES = 1024;

    private final ConcurrentHashMap<String, Optional<Cidr>> parsed = new ConcurrentHashMap<>();

    Optional<Cidr> get(String text) {
        Optional<Cidr> known = parsed.get(text);
        if (known != null) {
            return known;
        }
        if (parsed.size() >= MAX_ENTRIES) {
            parsed.clear();
        }
        return parsed.computeIfAbsent(text, Cidr::parse);
    }
}
