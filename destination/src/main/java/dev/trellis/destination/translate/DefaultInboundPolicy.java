package dev.trellis.destination.translate;

import java.util.Locale;

/** What applies to an inbound port no Server covers. */
public enum DefaultInboundPolicy {
    ALL_UNAUTHENTICATED, ALL_AUTHENTICATED, CLUSTER_AUTHENTICATED, DENY, AUDIT;

    /** @throws IllegalArgumentException naming the accepted values */
    public static DefaultInboundPolicy parse(String text) {
        return switch (text.strip().toLowerCase(Locale.ROOT)) {
            case "all-unauthenticated" -> ALL_UNAUTHENTICATED;
            case "all-authenticated" -> ALL_AUTHENTICATED;
            case "cluster-authenticated" -> CLUSTER_AUTHENTICATED;
            case "deny" -> DENY;
            case "audit" -> AUDIT;
            default -> throw new IllegalArgumentException("default inbound policy '" + text
                    + "' is not one of all-unauthenticated, all-authenticated, cluster-authenticated, deny, audit");
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
