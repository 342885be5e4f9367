package dev.trellis.core.metrics;

/** Which side of a proxy a connection or request is on: what the {@code direction} label of every proxy metric says. */
public enum Direction {
    /** Towards the proxy's own workload: a peer calls it. */
    INBOUND(ProxyMetricNames.INBOUND),
    /** From the proxy's own workload to a destination. */
    OUTBOUND(ProxyMetricNames.OUTBOUND);

    private final String label;

    Direction(String label) {
        this.label = label;
    }

    /** The label value ({@code inbound} or {@code outbound}). */
    public String label() {
        return label;
    }

    @Override
    public String toString() {
        return label;
    }
}
