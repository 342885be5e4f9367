package dev.trellis.cli;

import dev.trellis.viz.StatRow;
import java.util.List;
import java.util.Locale;

/** {@code viz stat} and the demo's live table: golden metrics as aligned text. */
final class StatTable {

    private StatTable() {
    }

    static String render(List<StatRow> rows, boolean wide) {
        StringBuilder out = new StringBuilder();
        String header = "%-11s %-12s %-6s %8s %8s %12s %12s %12s %8s".formatted(
                "NAMESPACE", "NAME", "MESHED", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TCP_CONN");
        out.append(header).append(wide ? "%12s %12s %8s".formatted("READ_B/S", "WRITE_B/S", "SECURED") : "").append('\n');
        for (StatRow row : rows) {
            out.append("%-11s %-12s %-6s %8s %8s %12s %12s %12s %8d".formatted(row.namespace(), row.name(), row.meshed(),
                    row.successRate() == null ? "-" : String.format(Locale.ROOT, "%.2f%%", row.successRate() * 100),
                    String.format(Locale.ROOT, "%.1f", row.rps()),
                    ms(row.latencyP50Ms()), ms(row.latencyP95Ms()), ms(row.latencyP99Ms()), row.tcpConnections()));
            if (wide) {
                out.append("%12.0f %12.0f %8s".formatted(row.readBytesPerSecond(), row.writeBytesPerSecond(),
                        row.secured() == null ? "-" : row.secured() ? "mTLS" : "NO"));
            }
            out.append('\n');
        }
        return out.toString();
    }

    static String ms(Double value) {
        return value == null ? "-" : String.format(Locale.ROOT, "%.0fms", Math.ceil(value));
    }
}
