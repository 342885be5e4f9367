package dev.trellis.proxy.discovery;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.controlplane.StreamWatch;
import dev.trellis.wire.destination.DestinationService;
import dev.trellis.wire.destination.GetDestination;
import dev.trellis.wire.destination.Profile;
import dev.trellis.wire.destination.Route;
import dev.trellis.wire.grpc.GrpcClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Route profiles from the destination service's {@code GetProfile} streams, one per authority
 * (opened on first use, at most {@value #MAX_AUTHORITIES}), each kept open by a {@link StreamWatch}
 * while the last profile stays in force. Until a profile arrives, no route matches. Thread-safe.
 */
public final class RouteProfiles implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RouteProfiles.class);
    static final int MAX_AUTHORITIES = 1000;

    /** A matched route: its metrics name, whether it may be retried, and its timeout if it sets one. */
    public record MatchedRoute(String name, boolean retryable, Optional<Duration> timeout) {
        public static final MatchedRoute DEFAULT = new MatchedRoute("[default]", false, Optional.empty());
    }

    private record CompiledRoute(Route route, Optional<Pattern> regex) {}

    private final GrpcClient client;
    private final String contextNamespace;
    private final StreamWatch.Reconnect reconnect;
    private final List<StreamWatch<Profile>> watches = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<String, List<CompiledRoute>> tables = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public RouteProfiles(GrpcClient client, ScheduledExecutorService scheduler, String contextNamespace) {
        this.client = requireNonNull(client, "client");
        this.reconnect = new StreamWatch.Reconnect(scheduler, Duration.ofMillis(500));
        this.contextNamespace = requireNonNull(contextNamespace, "contextNamespace");
    }

    /** The first route of {@code authority}'s profile that {@code method} and {@code path} match. */
    public MatchedRoute match(String authority, String method, String path) {
        List<CompiledRoute> table = tables.get(authority);
        if (table == null) {
            if (tables.size() < MAX_AUTHORITIES && tables.putIfAbsent(authority, List.of()) == null && !closed) {
                GetDestination request = new GetDestination(authority, contextNamespace);
                watches.add(new StreamWatch<Profile>("route profile of " + authority,
                        listener -> client.serverStream(DestinationService.GET_PROFILE, request, Profile::read, listener),
                        profile -> tables.put(authority, compile(profile)), reconnect).start());
                if (closed) {
                    watches.forEach(StreamWatch::close);
                }
            }
            return MatchedRoute.DEFAULT;
        }
        int query = path.indexOf('?');
        String bare = query < 0 ? path : path.substring(0, query);
        for (CompiledRoute compiled : table) {
            Route route = compiled.route();
            String wanted = route.method();
            if (!wanted.isEmpty() && !wanted.equalsIgnoreCase(method)) {
                continue;
            }
            boolean matches = compiled.regex().map(p -> p.matcher(bare).matches()).orElse(bare.equals(route.path()));
            if (matches) {
                Optional<Duration> timeout = route.timeout().filter(t -> t.isPositive());
                return new MatchedRoute(route.name(), route.retryable(), timeout);
            }
        }
        return MatchedRoute.DEFAULT;
    }

    private static List<CompiledRoute> compile(Profile profile) {
        List<CompiledRoute> out = new ArrayList<>();
        for (Route route : profile.routes()) {
            String regex = route.pathRegex();
            if (regex.isEmpty()) {
                out.add(new CompiledRoute(route, Optional.empty()));
                continue;
            }
            try {
                out.add(new CompiledRoute(route, Optional.of(Pattern.compile(regex))));
            } catch (PatternSyntaxException e) {
                log.warn("profiles: route {} has a bad path pattern; skipped: {}", route.name(), e.getDescription());
            }
        }
        return List.copyOf(out);
    }

    @Override
    public void close() {
        closed = true;
        watches.forEach(StreamWatch::close);
    }
}
