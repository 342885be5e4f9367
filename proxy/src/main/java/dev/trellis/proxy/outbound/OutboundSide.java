package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.Forward;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.connlog.ConnectionLog;
import dev.trellis.proxy.discovery.Discovery;
import dev.trellis.proxy.discovery.RouteProfiles;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.metrics.ProxyMetrics;
import dev.trellis.proxy.policy.EgressGate;
import dev.trellis.proxy.policy.HostResolver;
import dev.trellis.proxy.policy.PolicyMetrics;
import dev.trellis.proxy.policy.PolicyWatches;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.MeshProtocols;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.KeyExchange;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.TrustAnchors;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The outbound side of a proxy — everything the app's own connections meet — assembled in one
 * place, top to bottom, as the layers a connection passes:
 * <ol>
 *   <li>a listener (a {@code --forward} port, or the transparent one iptables redirects to),
 *       bounding the connections each source may have still opening;</li>
 *   <li>detection of the protocol the app speaks;</li>
 *   <li>for HTTP/1 to meshed endpoints ({@link HttpOutbound}): the request-head deadline, the
 *       codec, resolution through discovery, the route from the profile, the balancer's
 *       choice, the retry layer ({@link Attempts}), the endpoint's HTTP/2 stream over mTLS
 *       ({@link H2Connections}), and the metrics record;</li>
 *   <li>for HTTP/2 ({@link H2Outbound}): the same per stream;</li>
 *   <li>for everything else ({@link OpaqueOutbound}): resolution, balancing with connect
 *       retries, an mTLS connection verified against discovery's identity
 *       ({@link MeshConnector}), or — leaving the mesh — the egress policy's gate.</li>
 * </ol>
 * {@link #drain} and {@link #close} stop it. Thread-safe.
 */
public final class OutboundSide implements AutoCloseable {

    /** How the outbound side is configured (from the proxy's config). */
    public record Settings(List<Forward> forwards, Optional<HostPort> transparent, Set<Integer> opaquePorts,
                           Duration detect, Duration header, Duration connect, Duration request, Duration resolve, Duration policyWait,
                           int maxOpeningPerSource, KeyExchange keyExchange) {
        public Settings {
            forwards = List.copyOf(forwards);
            requireNonNull(transparent, "transparent");
            opaquePorts = Set.copyOf(opaquePorts);
            requireNonNull(keyExchange, "keyExchange");
        }
    }

    /** What the outbound side shares with the rest of the proxy. */
    public record Shared(IoRuntime io, WorkloadIdentity self, TrustAnchors anchors, CredentialsStore credentials, Clock clock,
                         Discovery discovery, RouteProfiles profiles, Optional<PolicyWatches> policy,
                         ProxyMetrics metrics, HttpMetrics httpMetrics, PolicyMetrics policyMetrics, ConnectionLog connectionLog) {}

    private final H2Connections endpointConnections;
    private final HttpOutbound http1;
    private final HostResolver resolver;
    private final List<ForwardListener> forwards;
    private final Optional<TransparentListener> transparent;

    private OutboundSide(H2Connections endpointConnections, HttpOutbound http1, HostResolver resolver, List<ForwardListener> forwards,
                         Optional<TransparentListener> transparent) {
        this.endpointConnections = endpointConnections;
        this.http1 = http1;
        this.resolver = resolver;
        this.forwards = List.copyOf(forwards);
        this.transparent = transparent;
    }

    /** Builds the outbound side and starts its listeners. */
    public static OutboundSide start(Settings settings, Shared shared) throws InterruptedException, javax.net.ssl.SSLException {
        IoRuntime io = shared.io();
        // Endpoint connections: mTLS to each endpoint's proxy, verified against the identity discovery names;
        // those discovery no longer holds (removed, or now another identity) are drained.
        H2Connections endpointConnections = new H2Connections(io, clientContext(settings, shared, MeshProtocols.HTTP2), settings.connect(),
                engine -> shared.metrics().tlsHandshake(Direction.OUTBOUND, MeshSslContexts.negotiatedGroup(engine)));
        shared.discovery().onEndpointsChanged(endpointConnections::retainOnly);
        MeshConnector opaqueConnector = new MeshConnector(io, clientContext(settings, shared, MeshProtocols.OPAQUE_TCP), settings.connect(),
                engine -> shared.metrics().tlsHandshake(Direction.OUTBOUND, MeshSslContexts.negotiatedGroup(engine)));
        Balancer balancer = Balancer.create();
        HostResolver resolver = HostResolver.system();

        // Opaque connections, and whatever leaves the mesh through the egress gate.
        // Every listener resolves its connections' destinations once, through this.
        Targets targets = new Targets(shared.discovery(), shared.profiles(), shared.credentials(), settings.resolve());
        OpaqueOutbound opaque = new OpaqueOutbound(io, opaqueConnector, balancer, shared.credentials(), shared.metrics(),
                shared.connectionLog(), settings.connect(),
                new EgressGate(shared.policy(), shared.policyMetrics(), settings.policyWait(), resolver), targets, shared.profiles());
        // HTTP/1 requests (an upgrade leaves for the opaque path), and HTTP/2 streams, under one retry budget per authority.
        RetryBudgets budgets = RetryBudgets.defaults();
        // Both HTTP paths pick an endpoint and open a request's stream on it through one piece.
        EndpointStreams endpointStreams = new EndpointStreams(balancer, endpointConnections);
        HttpOutbound http1 = new HttpOutbound(targets, endpointStreams, io, shared.httpMetrics(),
                settings.request(), settings.header(), shared.profiles(),
                (client, target, host) -> opaque.carry(client, target, Optional.empty(), new OpaqueOutbound.Seen("http1", host)), budgets);
        H2Outbound http2 = new H2Outbound(targets, endpointStreams, io, shared.httpMetrics(),
                settings.header(), shared.profiles(), budgets);

        // The listeners the app reaches them through.
        HttpConnectionLog httpLog = new HttpConnectionLog(shared.connectionLog(), shared.self());
        List<ForwardListener> forwards = new ArrayList<>();
        for (Forward forward : settings.forwards()) {
            forwards.add(new ForwardListener(forward, io, targets, opaque, http1, http2, httpLog, settings.detect(), settings.maxOpeningPerSource()).start());
        }
        Optional<TransparentListener> transparent = settings.transparent().isPresent()
                ? Optional.of(new TransparentListener(settings.transparent().get(), io, opaque, http1, http2, httpLog, shared.connectionLog(),
                        shared.self().spiffeId(), targets, shared.metrics(), settings.opaquePorts(), settings.detect(), settings.header(),
                        settings.maxOpeningPerSource()).start())
                : Optional.empty();
        return new OutboundSide(endpointConnections, http1, resolver, forwards, transparent);
    }

    private static io.netty.handler.ssl.SslContext clientContext(Settings settings, Shared shared, String alpn) throws javax.net.ssl.SSLException {
        return MeshSslContexts.forClient(shared.anchors(), Optional.of(shared.credentials()), List.of(alpn), shared.clock(), settings.keyExchange());
    }

    /** The bound address of the {@code index}th forward, in configuration order. */
    public InetSocketAddress forwardAddress(int index) {
        return forwards.get(index).address();
    }

    public int forwardCount() {
        return forwards.size();
    }

    /** The transparent listener's address, when there is one. */
    public Optional<InetSocketAddress> transparentAddress() {
        return transparent.map(TransparentListener::address);
    }

    /** Every listener of the outbound side, for draining; each is one of the proxy's own ports. */
    public List<BoundListener> listeners() {
        List<BoundListener> all = new ArrayList<>();
        forwards.forEach(forward -> all.add(forward.listener()));
        transparent.ifPresent(listener -> all.add(listener.listener()));
        return all;
    }

    /** From now on HTTP/1 responses close their connections, so that clients go elsewhere. */
    public void drain() {
        http1.drain();
    }

    /** Closes the endpoint connections and the host resolver (the listeners close with the proxy's drain). */
    @Override
    public void close() {
        endpointConnections.close();
        resolver.close();
    }
}
