package dev.trellis.proxy.discovery;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.wire.destination.TcpAddress;
import dev.trellis.wire.destination.Update;
import dev.trellis.wire.destination.WeightedAddr;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The endpoints of one authority, kept current by its {@code Get} stream. When the stream
 * breaks, the last known set stays in force until a new stream's first message replaces it.
 * Thread-safe: updates come from the gRPC thread, readers are event loops.
 */
public final class Resolution {

    private static final Logger log = LoggerFactory.getLogger(Resolution.class);

    /** Most endpoints kept for one authority; updates beyond it are dropped with a warning. */
    static final int MAX_ENDPOINTS = 10_000;

    private final String authority;
    private final CompletableFuture<EndpointSet> first = new CompletableFuture<>();
    private final Map<InetSocketAddress, Endpoint> endpoints = new LinkedHashMap<>();
    private volatile EndpointSet current = EndpointSet.UNKNOWN;
    private boolean exists;
    private boolean replaceOnNext = true;

    Resolution(String authority) {
        this.authority = authority;
    }

    public String authority() {
        return authority;
    }

    /** The set in force now; {@link EndpointSet#UNKNOWN} before the first answer. */
    public EndpointSet current() {
        return current;
    }

    /** Completes with the first answer of the destination service. */
    public CompletableFuture<EndpointSet> firstAnswer() {
        return first.copy();
    }

    /**
     * Runs {@code then} once this resolution has its first answer and {@code alsoWaitFor} is
     * done — at once, on the caller's thread, when both already are (the hot path: no timer,
     * no thread hop); otherwise on {@code executor}, with the error when {@code timeout}
     * passes first.
     */
    public void whenAnswered(CompletableFuture<?> alsoWaitFor, java.time.Duration timeout, java.util.concurrent.Executor executor,
                             java.util.function.Consumer<java.util.Optional<Throwable>> then) {
        if (first.isDone() && alsoWaitFor.isDone()) {
            then.accept(java.util.Optional.empty());
            return;
        }
        CompletableFuture.allOf(first, alsoWaitFor)
                .orTimeout(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                .whenComplete((ignored, error) -> executor.execute(() -> then.accept(java.util.Optional.ofNullable(error))));
    }

    /** A new stream starts: its first message is a full set that replaces ours. */
    synchronized void streamStarted() {
        replaceOnNext = true;
    }

    synchronized void apply(Update update) {
        if (replaceOnNext) {
            endpoints.clear();
            replaceOnNext = false;
        }
        switch (update) {
            case Update.Add add -> {
                exists = true;
                for (WeightedAddr addr : add.addrs()) {
                    toEndpoint(addr, add.metricLabels()).ifPresent(e -> {
                        if (endpoints.size() < MAX_ENDPOINTS || endpoints.containsKey(e.address())) {
                            endpoints.put(e.address(), e);
                        } else {
                            log.warn("discovery: {} has more than {} endpoints; ignoring {}", authority, MAX_ENDPOINTS, e.address());
                        }
                    });
                }
            }
            case Update.Remove remove -> {
                for (TcpAddress addr : remove.addrs()) {
                    toAddress(addr).ifPresent(endpoints::remove);
                }
            }
            case Update.NoEndpoints none -> {
                exists = none.exists();
                endpoints.clear();
            }
            case Update.Empty empty -> log.warn("discovery: {}: ignoring an empty update", authority);
        }
        current = new EndpointSet(exists, List.copyOf(endpoints.values()));
        first.complete(current);
    }

    private Optional<Endpoint> toEndpoint(WeightedAddr addr, Map<String, String> setLabels) {
        Optional<InetSocketAddress> address = toAddress(addr.addr());
        if (address.isEmpty()) {
            return Optional.empty();
        }
        Optional<WorkloadIdentity> identity = Optional.empty();
        if (!addr.spiffeId().isEmpty()) {
            try {
                identity = Optional.of(WorkloadIdentity.parseSpiffeId(addr.spiffeId()));
            } catch (IllegalArgumentException e) {
                log.warn("discovery: {}: endpoint {} has a malformed identity; skipping it: {}", authority, address.get(), e.getMessage());
                return Optional.empty();
            }
        }
        Map<String, String> labels = new HashMap<>(setLabels);
        labels.putAll(addr.metricLabels());
        try {
            return Optional.of(new Endpoint(address.get(), Math.max(1, addr.weight()), identity, addr.proxyInboundPort(), addr.opaqueHint(), labels));
        } catch (IllegalArgumentException e) {
            log.warn("discovery: {}: skipping endpoint {}: {}", authority, address.get(), e.getMessage());
            return Optional.empty();
        }
    }

    private Optional<InetSocketAddress> toAddress(TcpAddress addr) {
        Optional<InetSocketAddress> address = addr.toSocketAddress();
        if (address.isEmpty()) {
            log.warn("discovery: {}: skipping a malformed address ({})", authority, addr);
        }
        return address;
    }
}
