package dev.trellis.destination;

import dev.trellis.api.destination.v1.AddrSet;
import dev.trellis.api.destination.v1.DestinationGrpc;
import dev.trellis.api.destination.v1.GetDestination;
import dev.trellis.api.destination.v1.NoEndpoints;
import dev.trellis.api.destination.v1.Profile;
import dev.trellis.api.destination.v1.Update;
import dev.trellis.api.destination.v1.WeightedAddr;
import dev.trellis.api.destination.v1.WeightedAddrSet;
import dev.trellis.cluster.ClusterSnapshot;
import dev.trellis.cluster.ClusterSource;
import dev.trellis.destination.translate.Endpoints;
import dev.trellis.destination.translate.Profiles;
import dev.trellis.destination.translate.Target;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code Get} and {@code GetProfile}: endpoint sets and route profiles of an authority, full
 * first, then changes. Strict visibility (finding 10) limits a caller to its own namespace
 * and what other namespaces export to it with {@value Target#VISIBLE_TO}.
 */
final class DestinationService extends DestinationGrpc.DestinationImplBase {

    private static final int MAX_AUTHORITY_LENGTH = 512;

    private final DestinationServerConfig config;
    private final ClusterSource source;
    /**
     * Profiles computed once per snapshot, authority and caller namespace: a route change that
     * a thousand proxies watch is translated once, not a thousand times. Publisher thread.
     */
    private final class ProfileCache {
        private record Key(String authority, String callerNamespace) {}

        private long generation = -1;
        private final java.util.Map<Key, Profile> profiles = new java.util.HashMap<>();

        synchronized Profile of(ClusterSnapshot snapshot, String authority, String callerNamespace) {
            if (snapshot.generation() != generation) {
                profiles.clear();
                generation = snapshot.generation();
            }
            if (profiles.size() >= MAX_CACHED_PROFILES) {
                profiles.clear();
            }
            return profiles.computeIfAbsent(new Key(authority, callerNamespace), key -> Profiles.of(snapshot, routes.of(snapshot),
                    Target.resolve(snapshot, authority, config.clusterDomain()), callerNamespace, config.clusterDomain()));
        }
    }

    /** Profiles kept per snapshot at most; beyond it the cache starts over (a bound on memory, not on correctness). */
    static final int MAX_CACHED_PROFILES = 10_000;

    private final ProfileCache profiles = new ProfileCache();

    /** The Gateway API routes in force, shared by every profile stream. */
    private final dev.trellis.destination.translate.LastGoodRoutes routes;
    private final Streams streams;
    private final DestinationMetrics metrics;

    DestinationService(DestinationServerConfig config, ClusterSource source, Streams streams, DestinationMetrics metrics,
                       dev.trellis.destination.translate.LastGoodRoutes routes) {
        this.routes = routes;
        this.config = config;
        this.source = source;
        this.streams = streams;
        this.metrics = metrics;
    }

    @Override
    public void get(GetDestination request, StreamObserver<Update> responses) {
        Caller caller = Caller.current();
        Optional<Status> refused = admit(request.getAuthority(), caller);
        if (refused.isPresent()) {
            responses.onError(refused.get().asRuntimeException());
            return;
        }
        streams.open(responses, slot -> new EndpointSubscription((ServerCallStreamObserver<Update>) responses, slot, request.getAuthority(), caller));
    }

    @Override
    public void getProfile(GetDestination request, StreamObserver<Profile> responses) {
        Caller caller = Caller.current();
        Optional<Status> refused = admit(request.getAuthority(), caller);
        if (refused.isPresent()) {
            responses.onError(refused.get().asRuntimeException());
            return;
        }
        String authority = request.getAuthority();
        ServerCallStreamObserver<Profile> observer = (ServerCallStreamObserver<Profile>) responses;
        streams.open(responses, slot -> new Subscription<>(observer, "GetProfile", metrics, config.slowSubscriberTimeout().toNanos(), slot) {
            private Profile last;

            @Override
            void publish(ClusterSnapshot snapshot) {
                Optional<Status> nowHidden = visibility(snapshot, authority, caller);
                if (nowHidden.isPresent()) {
                    fail(nowHidden.get());
                    return;
                }
                Profile profile = profiles.of(snapshot, authority, caller.identity().namespace());
                if (!profile.equals(last)) {
                    last = profile;
                    send(profile);
                }
            }
        });
    }

    /** INVALID_ARGUMENT for a malformed authority, PERMISSION_DENIED for one the caller may not see. */
    private Optional<Status> admit(String authority, Caller caller) {
        return validate(authority).or(() -> visibility(source.current(), authority, caller));
    }

    private static Optional<Status> validate(String authority) {
        if (authority.isEmpty() || authority.length() > MAX_AUTHORITY_LENGTH) {
            return Optional.of(Status.INVALID_ARGUMENT.withDescription("destination: authority must be host:port of at most " + MAX_AUTHORITY_LENGTH + " characters"));
        }
        try {
            dev.trellis.core.net.HostPort.parse(authority);
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.of(Status.INVALID_ARGUMENT.withDescription("destination: authority '" + dev.trellis.core.text.UntrustedText.printable(authority, 80) + "' is not host:port"));
        }
    }

    /** Under strict visibility, PERMISSION_DENIED for a target in another namespace that does not export to the caller's. */
    private Optional<Status> visibility(ClusterSnapshot snapshot, String authority, Caller caller) {
        if (!config.strictVisibility()) {
            return Optional.empty();
        }
        Optional<Target> target = Target.resolve(snapshot, authority, config.clusterDomain());
        if (target.isEmpty() || target.get().namespace().equals(caller.identity().namespace())) {
            return Optional.empty();
        }
        var exported = Target.exportedTo(target.get().object());
        if (exported.contains("*") || exported.contains(caller.identity().namespace())) {
            return Optional.empty();
        }
        metrics.limited.labelValues("visibility").inc();
        return Optional.of(Status.PERMISSION_DENIED.withDescription("destination: " + authority + " is in namespace " + target.get().namespace()
                + ", which does not export it to " + caller.identity().namespace()));
    }

    /** Adds and removes against what this stream last sent. */
    private final class EndpointSubscription extends Subscription<Update> {
        private final String authority;
        private final Caller caller;
        private Map<String, WeightedAddr> sent;
        private boolean sentExists;

        EndpointSubscription(ServerCallStreamObserver<Update> observer, CallerLimits.Slot slot, String authority, Caller caller) {
            super(observer, "Get", metrics, config.slowSubscriberTimeout().toNanos(), slot);
            this.authority = authority;
            this.caller = caller;
        }

        @Override
        void publish(ClusterSnapshot snapshot) {
            Optional<Status> hidden = visibility(snapshot, authority, caller);
            if (hidden.isPresent()) {
                fail(hidden.get());
                return;
            }
            Endpoints.Set now = Endpoints.of(snapshot, Target.resolve(snapshot, authority, config.clusterDomain()), config.trustDomain());
            if (sent == null) {
                sent = new HashMap<>();
                announce(now, now.addresses().values().stream().toList());
                sent.putAll(now.addresses());
                sentExists = now.exists();
                return;
            }
            List<String> removed = sent.keySet().stream().filter(key -> !now.addresses().containsKey(key)).toList();
            List<WeightedAddr> changed = now.addresses().entrySet().stream()
                    .filter(e -> !e.getValue().equals(sent.get(e.getKey()))).map(Map.Entry::getValue).toList();
            if (!removed.isEmpty()) {
                AddrSet.Builder gone = AddrSet.newBuilder();
                removed.forEach(key -> gone.addAddrs(sent.get(key).getAddr()));
                send(Update.newBuilder().setRemove(gone).build());
            }
            if (!changed.isEmpty() || (now.addresses().isEmpty() && (!removed.isEmpty() || sentExists != now.exists()))) {
                announce(now, changed);
            }
            sent = new HashMap<>(now.addresses());
            sentExists = now.exists();
        }

        private void announce(Endpoints.Set now, List<WeightedAddr> addresses) {
            if (addresses.isEmpty()) {
                send(Update.newBuilder().setNoEndpoints(NoEndpoints.newBuilder().setExists(now.exists())).build());
            } else {
                send(Update.newBuilder().setAdd(WeightedAddrSet.newBuilder().addAllAddrs(addresses).putAllMetricLabels(now.labels())).build());
            }
        }
    }
}
