package dev.trellis.proxy.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.api.destination.v1.DestinationGrpc;
import dev.trellis.api.destination.v1.GetDestination;
import dev.trellis.api.destination.v1.Update;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resolves authorities through the destination service's {@code Get} streams, one stream per
 * authority, opened on first use and kept open. A broken stream is reopened with jittered
 * exponential backoff (from {@code initialBackoff} up to 30 s) while the last known endpoints
 * keep serving. At most {@value #MAX_AUTHORITIES} authorities are resolved at once; more are
 * refused, so a misbehaving app cannot make the proxy open unbounded streams.
 *
 * <p>Thread-safe. Closing it cancels every stream.
 */
public final class Discovery implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Discovery.class);

    static final int MAX_AUTHORITIES = 1000;

    private final DestinationGrpc.DestinationStub stub;
    private final ManagedChannel channel;
    private final ScheduledExecutorService scheduler;
    private final String contextNamespace;
    private final Duration initialBackoff;
    private final ConcurrentHashMap<String, Resolution> resolutions = new ConcurrentHashMap<>();
    private final List<Consumer<Set<Endpoint>>> changeListeners = new CopyOnWriteArrayList<>();
    private final AtomicBoolean changePending = new AtomicBoolean();
    private volatile boolean closed;

    public Discovery(ManagedChannel channel, ScheduledExecutorService scheduler, String contextNamespace, Duration initialBackoff) {
        this.channel = requireNonNull(channel, "channel");
        this.stub = DestinationGrpc.newStub(channel);
        this.scheduler = requireNonNull(scheduler, "scheduler");
        this.contextNamespace = requireNonNull(contextNamespace, "contextNamespace");
        this.initialBackoff = requireNonNull(initialBackoff, "initialBackoff");
    }

    /**
     * The resolution of {@code authority} ({@code host:port}), starting its stream on first use.
     *
     * @throws IllegalStateException when {@value #MAX_AUTHORITIES} authorities are already resolved
     */
    public Resolution resolve(String authority) {
        Resolution existing = resolutions.get(authority);
        if (existing != null) {
            return existing;
        }
        if (resolutions.size() >= MAX_AUTHORITIES) {
            throw new IllegalStateException("discovery: already resolving " + MAX_AUTHORITIES + " authorities; refusing " + authority);
        }
        Resolution[] created = new Resolution[1];
        Resolution resolution = resolutions.computeIfAbsent(authority, a -> created[0] = new Resolution(a));
        if (created[0] == resolution) {
            open(resolution, 0);
        }
        return resolution;
    }

    private void open(Resolution resolution, int attempt) {
        if (closed) {
            return;
        }
        resolution.streamStarted();
        stub.get(GetDestination.newBuilder().setAuthority(resolution.authority()).setContextNamespace(contextNamespace).build(),
                new StreamObserver<Update>() {
                    private boolean answered;

                    @Override
                    public void onNext(Update update) {
                        answered = true;
                        resolution.apply(update);
                        endpointsChanged();
                    }

                    @Override
                    public void onError(Throwable error) {
                        reopen(resolution, answered ? 0 : attempt + 1, error.toString());
                    }

                    @Override
                    public void onCompleted() {
                        reopen(resolution, answered ? 0 : attempt + 1, "stream ended");
                    }
                });
    }

    /**
     * Tells {@code listener} every endpoint any resolution holds, a second after an update
     * (updates in that second are told once), on the scheduler.
     */
    public void onEndpointsChanged(Consumer<Set<Endpoint>> listener) {
        changeListeners.add(requireNonNull(listener, "listener"));
    }

    /** Every endpoint of every resolution now. */
    public Set<Endpoint> endpointsInUse() {
        Set<Endpoint> all = new HashSet<>();
        resolutions.values().forEach(r -> all.addAll(r.current().endpoints()));
        return all;
    }

    private void endpointsChanged() {
        if (changeListeners.isEmpty() || closed || !changePending.compareAndSet(false, true)) {
            return;
        }
        scheduler.schedule(() -> {
            changePending.set(false);
            Set<Endpoint> inUse = endpointsInUse();
            changeListeners.forEach(listener -> listener.accept(inUse));
        }, 1, TimeUnit.SECONDS);
    }

    private void reopen(Resolution resolution, int attempt, String why) {
        if (closed) {
            return;
        }
        long delay = ReconnectBackoff.millis(initialBackoff, attempt);
        log.warn("discovery: stream for {} broke ({}); keeping {} known endpoints, reconnecting in {} ms",
                resolution.authority(), why, resolution.current().endpoints().size(), delay);
        scheduler.schedule(() -> open(resolution, attempt), delay, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        closed = true;
        channel.shutdownNow();
    }
}
