package dev.trellis.viz;

/**
 * Golden metrics of one resource (a workload of {@code kind}, a pod or a namespace) over the window, from
 * its proxies' inbound metrics: success rate (null without requests), requests per second,
 * latency quantiles in milliseconds (null without requests), open inbound TCP connections,
 * bytes per second read and written, and whether every inbound connection in the window
 * carried mesh mTLS ({@code secured}; null without traffic).
 */
public record StatRow(String namespace, String kind, String name, int meshedPods, int pods, Double successRate, double rps,
                      Double latencyP50Ms, Double latencyP95Ms, Double latencyP99Ms, long tcpConnections,
                      double readBytesPerSecond, double writeBytesPerSecond, Boolean secured) {

    /** "2/2" as the MESHED column shows it. */
    public String meshed() {
        return meshedPods + "/" + pods;
    }
}
