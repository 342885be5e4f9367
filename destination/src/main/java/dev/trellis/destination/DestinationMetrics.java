package dev.trellis.destination;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/** The destination service's metrics: streams open, updates sent, calls limited, index sizes. */
final class DestinationMetrics {

    final Gauge streamsOpen;
    final Counter updatesSent;
    final Counter limited;
    final Gauge indexSize;

    DestinationMetrics(PrometheusRegistry registry) {
        streamsOpen = Gauge.builder().name("destination_streams_open").help("Open streams, by RPC").labelNames("rpc").register(registry);
        updatesSent = Counter.builder().name("destination_updates_sent").help("Messages sent on streams, by RPC").labelNames("rpc").register(registry);
        limited = Counter.builder().name("destination_limited_calls").help("Calls refused or streams cut by a limit, by reason").labelNames("reason").register(registry);
        indexSize = Gauge.builder().name("destination_index_size").help("Objects in the cluster-state index, by kind").labelNames("kind").register(registry);
    }
}
