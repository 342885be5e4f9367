package dev.trellis.proxy.metrics;

import static dev.trellis.core.metrics.ProxyMetricNames.AUTHORITY;
import static dev.trellis.core.metrics.ProxyMetricNames.DIRECTION;
import static dev.trellis.core.metrics.ProxyMetricNames.PEER_ID;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_OPEN;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_OPEN_CONNECTIONS;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_READ_BYTES;
import static dev.trellis.core.metrics.ProxyMetricNames.TCP_WRITE_BYTES;
import static dev.trellis.core.metrics.ProxyMetricNames.TLS;
import static dev.trellis.core.metrics.ProxyMetricNames.TLS_MUTUAL;
import static dev.trellis.core.metrics.ProxyMetricNames.TLS_NONE;

import dev.trellis.core.metrics.ProxyMetricNames;
import dev.trellis.core.metrics.Direction;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Optional;
import java.util.Set;

/**
 * The proxy's connection metrics. Label values that come from traffic are capped per proxy
 * ({@value #MAX_AUTHORITIES} authorities, {@value #MAX_PEERS} peer identities); beyond that they
 * read {@code other}, so a client cannot blow up the scrape.
 */
public final class ProxyMetrics {

    static final int MAX_AUTHORITIES = 200;
    /** Peer identities kept as label values; the CA issues them, but a cluster may hold many. */
    static final int MAX_PEERS = 500;
    private static final String[] TCP_LABELS = {DIRECTION, AUTHORITY, TLS, PEER_ID};

    private final Counter tcpOpen;
    private final Counter tcpClose;
    private final Gauge tcpOpenConnections;
    private final Counter tcpReadBytes;
    private final Counter tcpWriteBytes;
    private final Counter tcpRefused;
    private final Gauge certExpiry;
    private final Counter tlsHandshakes;
    private final BoundedLabel authorities = new BoundedLabel(MAX_AUTHORITIES);
    private final BoundedLabel peers = new BoundedLabel(MAX_PEERS);

    private final PrometheusRegistry registry;

    public ProxyMetrics(PrometheusRegistry registry) {
        this.registry = registry;
        tcpOpen = Counter.builder().name(TCP_OPEN).help("TCP connections opened").labelNames(TCP_LABELS).register(registry);
        tcpClose = Counter.builder().name("tcp_close").help("TCP connections closed").labelNames(TCP_LABELS).register(registry);
        tcpOpenConnections = Gauge.builder().name(TCP_OPEN_CONNECTIONS).help("TCP connections open now").labelNames(TCP_LABELS).register(registry);
        tcpReadBytes = Counter.builder().name(TCP_READ_BYTES).help("Bytes read from the connection's client side").labelNames(TCP_LABELS).register(registry);
        tcpWriteBytes = Counter.builder().name(TCP_WRITE_BYTES).help("Bytes written to the connection's client side").labelNames(TCP_LABELS).register(registry);
        tcpRefused = Counter.builder().name(ProxyMetricNames.TCP_REFUSED).help("Connections refused, by reason")
                .labelNames(DIRECTION, ProxyMetricNames.REASON).register(registry);
        tlsHandshakes = Counter.builder().name("tls_handshakes").help("Mesh TLS handshakes completed, by key-exchange group (X25519MLKEM768 is the hybrid post-quantum one)")
                .labelNames(DIRECTION, "group").register(registry);
        certExpiry = Gauge.builder().name(ProxyMetricNames.CERT_EXPIRY)
                .help("notAfter of the proxy's current certificate, in Unix seconds").register(registry);
    }

    /** A connection's labels: direction, authority, tls ("true" or "no_identity"), the peer's identity. */
    public record Labels(Direction direction, String authority, boolean tls, String peerId) {
        String[] values(ProxyMetrics metrics) {
            return new String[] {direction.label(), metrics.authorities.value(authority), tls ? TLS_MUTUAL : TLS_NONE, metrics.peers.value(peerId)};
        }
    }

    public void opened(Labels labels) {
        String[] values = labels.values(this);
        tcpOpen.labelValues(values).inc();
        tcpOpenConnections.labelValues(values).inc();
    }

    public void closed(Labels labels, long readBytes, long writeBytes) {
        String[] values = labels.values(this);
        tcpClose.labelValues(values).inc();
        tcpOpenConnections.labelValues(values).dec();
        tcpReadBytes.labelValues(values).inc(readBytes);
        tcpWriteBytes.labelValues(values).inc(writeBytes);
    }

    /** The byte counters of a connection's labels, for counting as bytes flow rather than at close. */
    public record Bytes(io.prometheus.metrics.core.datapoints.CounterDataPoint read, io.prometheus.metrics.core.datapoints.CounterDataPoint written) {}

    public Bytes bytes(Labels labels) {
        String[] values = labels.values(this);
        return new Bytes(tcpReadBytes.labelValues(values), tcpWriteBytes.labelValues(values));
    }

    public void refused(Direction direction, String reason) {
        tcpRefused.labelValues(direction.label(), reason).inc();
    }

    /** Groups a handshake may settle on; anything else is counted as {@code other}, so the label stays bounded. */
    private static final Set<String> KNOWN_GROUPS = Set.of("X25519MLKEM768", "X25519", "P-256", "P-384", "X25519Kyber768Draft00");

    /** A finished mesh TLS handshake and the key-exchange group it settled on. */
    public void tlsHandshake(Direction direction, Optional<String> group) {
        String label = group.map(g -> KNOWN_GROUPS.contains(g) ? g : "other").orElse("unknown");
        tlsHandshakes.labelValues(direction.label(), label).inc();
    }

    /** Exposes the identity client's renewals failed in a row, read at each scrape. */
    public void renewalFailures(java.util.function.IntSupplier failures) {
        io.prometheus.metrics.core.metrics.GaugeWithCallback.builder().name("identity_cert_renewal_failures")
                .help("Certificate renewals failed in a row since the last success; /ready fails when the certificate expires or is near expiry with failures")
                .callback(callback -> callback.call(failures.getAsInt())).register(registry);
    }

    /** Exposes the connection-log lines dropped because its sink fell behind, read at each scrape. */
    public void connectionLogDropped(java.util.function.LongSupplier dropped) {
        io.prometheus.metrics.core.metrics.CounterWithCallback.builder().name("connection_log_dropped")
                .help("Connection-log lines dropped because the log's sink fell too far behind (a slow reader of the proxy's output)")
                .callback(callback -> callback.call(dropped.getAsLong())).register(registry);
    }

    public void certificateExpires(java.time.Instant notAfter) {
        certExpiry.set(notAfter.getEpochSecond());
    }
}
