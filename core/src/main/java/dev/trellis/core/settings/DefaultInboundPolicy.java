package dev.trellis.core.settings;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What applies to an inbound port no Server covers: the destination service's default, a
 * namespace's or pod's {@code config.trellis.dev/default-inbound-policy}, and what a proxy
 * falls back on while it has no policy yet. One list of names for all of them.
 */
public enum DefaultInboundPolicy {
    ALL_UNAUTHENTICATED, ALL_AUTHENTICATED, CLUSTER_AUTHENTICATED, DENY, AUDIT;

    /** @throws IllegalArgumentException naming the accepted values */
    public static DefaultInboundPolicy parse(String text) {
        String wanted = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        for (DefaultInboundPolicy policy : values()) {
            if (policy.toString().equals(wanted)) {
                return policy;
            }
        }
        throw new IllegalArgumentException("default inbound policy '" + text + "' is not one of " + names());
    }

    /** Every name, as written, comma-separated. */
    public static String names() {
        return Arrays.stream(values()).map(DefaultInboundPolicy::toString).collect(Collectors.joining(", "));
    }

    /** The name as written: {@code all-unauthenticated}. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
