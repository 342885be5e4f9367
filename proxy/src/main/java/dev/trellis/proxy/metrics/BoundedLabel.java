package dev.trellis.proxy.metrics;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The values one metric label may take when they come from traffic (authorities, peer
 * identities, hosts): the first {@code max} distinct values are kept as they are, later ones
 * read {@value #OVERFLOW}, so that no client can grow the scrape without bound. (Concurrent first
 * sightings may let a few more than {@code max} in; never unboundedly many.) Thread-safe.
 */
public final class BoundedLabel {

    public static final String OVERFLOW = "other";

    private final int max;
    private final Set<String> seen = ConcurrentHashMap.newKeySet();

    public BoundedLabel(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("metrics: a label bounded to " + max + " values makes no sense");
        }
        this.max = max;
    }

    /** {@code raw} if it is one of the values kept (or room remains for it), {@value #OVERFLOW} if not; empty stays empty. */
    public String value(String raw) {
        if (raw == null || raw.isEmpty()) {
            return "";
        }
        if (seen.contains(raw) || (seen.size() < max && seen.add(raw))) {
            return raw;
        }
        return OVERFLOW;
    }
}
