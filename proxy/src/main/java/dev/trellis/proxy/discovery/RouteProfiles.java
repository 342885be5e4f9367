package dev.trellis.proxy.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.controlplane.StreamWatch;
import dev.trellis.wire.destination.DestinationService;
import dev.trellis.wire.destination.GetDestination;
import dev.trellis.wire.destination.Profile;
import dev.trellis.proxy.routes.MatchedRoute;
import dev.trellis.proxy.routes.RouteRequest;
import dev.trellis.proxy.routes.RouteTable;
import dev.trellis.wire.grpc.GrpcClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Route profiles from the destination service's {@code GetProfile} streams, one per authority
 * (opened on first use, at most {@value #MAX_AUTHORITIES}), each kept open by a {@link StreamWatch}
 * while the last profile stays in force. Until a profile arrives, no route matches. Thread-safe.
 */
public final class RouteProfiles implements AutoCloseable {

    static final int MAX_AUTHORITIES = 1000;

    private final GrpcClient client;
    private final String contextNamespace;
    private final StreamWatch.Reconnect reconnect;
    private final List<StreamWatch<Profile>> watches = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<String, RouteTable> tables = new ConcurrentHashMap<>();
    /** Completed when an authority's first profile came (or at once when no stream could be opened for it). */
    private final ConcurrentHashMap<String, CompletableFuture<Void>> firsts = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public RouteProfiles(GrpcClient client, ScheduledExecutorService scheduler, String contextNamespace) {
        this.client = requireNonNull(client, "client");
        this.reconnect = new StreamWatch.Reconnect(scheduler, Duration.ofMillis(500));
        this.contextNamespace = requireNonNull(contextNamespace, "contextNamespace");
    }

    /** The first route of {@code authority}'s profile that {@code method} and {@code path} match. */
    public MatchedRoute match(String authority, String method, String path) {
        return match(authority, RouteRequest.of(method, path));
    }

    /**
     * The first route of {@code authority}'s profile that {@code request} matches;
     * {@link MatchedRoute#DEFAULT} until its first profile came ({@link #firstProfile}, which
     * the outbound side waits for before it sends anything there).
     */
    public MatchedRoute match(String authority, RouteRequest request) {
        RouteTable table = tables.get(authority);
        if (table == null) {
            watch(authority);
            return MatchedRoute.DEFAULT;
        }
        return table.match(request);
    }

    /** Where one opaque connection to {@code authority} goes: itself, or a backend of its TCPRoute by weight ({@code ""}: unresolved). */
    public String opaqueBackend(String authority) {
        RouteTable table = tables.get(authority);
        return table == null ? authority : table.opaqueBackend(authority);
    }

    /**
     * Completes once {@code authority}'s first profile came, opening its stream on the first ask;
     * at once when no more authorities may be watched (their traffic takes the default route).
     */
    public CompletableFuture<Void> firstProfile(String authority) {
        CompletableFuture<Void> first = firsts.get(authority);
        if (first != null) {
            return first;
        }
        watch(authority);
        return firsts.getOrDefault(authority, CompletableFuture.completedFuture(null));
    }

    private void watch(String authority) {
        if (tables.containsKey(authority) || tables.size() >= MAX_AUTHORITIES || closed) {
            return;
        }
        CompletableFuture<Void> first = new CompletableFuture<>();
        if (firsts.putIfAbsent(authority, first) != null || tables.putIfAbsent(authority, RouteTable.EMPTY) != null) {
            return;
        }
        GetDestination ask = new GetDestination(authority, contextNamespace);
        watches.add(new StreamWatch<Profile>("route profile of " + authority,
                listener -> client.serverStream(DestinationService.GET_PROFILE, ask, Profile::read, listener),
                new StreamWatch.Updates<>() {
                    @Override
                    public void next(Profile profile) {
                        tables.put(authority, RouteTable.of(profile));
                        first.complete(null);
                    }

                    @Override
                    public void callEnded(dev.trellis.wire.grpc.GrpcStatus status) {
                        // A profile the service will not give (a limit, a refusal) must not hold traffic back: it takes the
                        // default route until one comes. Routes steer traffic; policy, which does hold it back, is elsewhere.
                        first.complete(null);
                    }
                }, reconnect).start());
        if (closed) {
            watches.forEach(StreamWatch::close);
        }
    }

    @Override
    public void close() {
        closed = true;
        watches.forEach(StreamWatch::close);
    }
}
