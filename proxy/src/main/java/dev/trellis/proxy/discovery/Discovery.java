package dev.trellis.proxy.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.controlplane.StreamWatch;
import dev.trellis.wire.destination.DestinationService;
import dev.trellis.wire.destination.GetDestination;
import dev.trellis.wire.destination.Update;
import dev.trellis.wire.grpc.GrpcClient;
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

/**
 * Resolves authorities through the destination service's {@code Get} streams, one stream per
 * authority, opened on first use and kept open by a {@link StreamWatch}: a broken stream is
 * reopened with jittered exponential backoff (from {@code initialBackoff} up to 30 s) while the
 * last known endpoints keep serving. At most {@value #MAX_AUTHORITIES} authorities are resolved at once; more are
 * refused, so a misbehaving app cannot make the proxy open unbounded streams.
 *
 * <p>Thread-safe. Closing it cancels every stream.
 */
public final class Discovery implements AutoCloseable {

    static final int MAX_AUTHORITIES = 1000;

    private final GrpcClient client;
    private final ScheduledExecutorService scheduler;
    private final String contextNamespace;
    private final StreamWatch.Reconnect reconnect;
    private final List<StreamWatch<Update>> watches = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<String, Resolution> resolutions = new ConcurrentHashMap<>();
    private final List<Consumer<Set<Endpoint>>> changeListeners = new CopyOnWriteArrayList<>();
    private final AtomicBoolean changePending = new AtomicBoolean();
    private volatile boolean closed;

    public Discovery(GrpcClient client, ScheduledExecutorService scheduler, String contextNamespace, Duration initialBackoff) {
        this.client = requireNonNull(client, "client");
        this.scheduler = requireNonNull(scheduler, "scheduler");
        this.contextNamespace = requireNonNull(contextNamespace, "contextNamespace");
        this.reconnect = new StreamWatch.Reconnect(scheduler, initialBackoff);
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
            GetDestination request = new GetDestination(authority, contextNamespace);
            watches.add(new StreamWatch<Update>("discovery of " + authority, listener -> client.serverStream(DestinationService.GET, request, Update::read, listener),
                    new StreamWatch.Updates<>() {
                @Override
                public void callStarted() {
                    resolution.streamStarted();
                }

                @Override
                public void next(Update update) {
                    resolution.apply(update);
                    endpointsChanged();
                }
            }, reconnect).start());
            if (closed) {
                // Closed while this one was starting: the loop above has missed it.
                watches.forEach(StreamWatch::close);
            }
        }
        return resolution;
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

    @Override
    public void close() {
        closed = true;
        watches.forEach(StreamWatch::close);
        // The destination connection is the proxy's one; discovery, the first to use it, closes it.
        client.close();
    }
}
