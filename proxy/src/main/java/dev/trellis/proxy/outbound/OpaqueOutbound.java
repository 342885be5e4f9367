package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.connlog.ConnectionLog;
import dev.trellis.proxy.discovery.EndpointSet;
import dev.trellis.proxy.discovery.RouteProfiles;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.http.ProxyErrors;
import dev.trellis.proxy.metrics.ProxyMetrics;
import dev.trellis.proxy.policy.EgressGate;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.Openings;
import dev.trellis.tls.context.CredentialsStore;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.util.concurrent.Future;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpResponseEncoder;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries one outbound opaque connection to its resolved {@link Target}: picks an endpoint with the
 * balancer, and joins the client to it — over mTLS when the endpoint is meshed. Nothing is
 * read from the client until the far side is connected, and the client is never asked to
 * speak first, so server-speaks-first protocols work. Up to {@value #ATTEMPTS} endpoints are
 * tried when a connection cannot be made, each on an endpoint not tried before; one that
 * presents the wrong identity is not retried. When discovery knows no endpoint and
 * the connection had an original destination (transparent mode), it goes there directly,
 * unmeshed ("passthrough"). A Service whose TCPRoute splits its connections sends each to
 * one of the route's backends by weight, chosen here once per connection. Every connection
 * writes one line to the {@link ConnectionLog}.
 * Shared by every outbound listener; thread-safe.
 */
final class OpaqueOutbound {

    private static final Logger log = LoggerFactory.getLogger(OpaqueOutbound.class);

    static final int ATTEMPTS = 3;

    private final IoRuntime io;
    private final MeshConnector connector;
    private final Balancer balancer;
    private final CredentialsStore credentials;
    private final ProxyMetrics metrics;
    private final ConnectionLog connectionLog;
    private final Duration connectTimeout;
    private final EgressGate egress;
    private final Targets targets;
    private final RouteProfiles profiles;

    OpaqueOutbound(IoRuntime io, MeshConnector connector, Balancer balancer, CredentialsStore credentials,
                   ProxyMetrics metrics, ConnectionLog connectionLog, Duration connectTimeout, EgressGate egress, Targets targets, RouteProfiles profiles) {
        this.targets = requireNonNull(targets, "targets");
        this.profiles = requireNonNull(profiles, "profiles");
        this.egress = requireNonNull(egress, "egress");
        this.io = requireNonNull(io, "io");
        this.connector = requireNonNull(connector, "connector");
        this.balancer = requireNonNull(balancer, "balancer");
        this.credentials = requireNonNull(credentials, "credentials");
        this.metrics = requireNonNull(metrics, "metrics");
        this.connectionLog = requireNonNull(connectionLog, "connectionLog");
        this.connectTimeout = requireNonNull(connectTimeout, "connectTimeout");
    }

    /** What the proxy learnt of a connection before carrying it: its protocol and the host the app named. */
    public record Seen(String protocol, Optional<String> host) {
        public static final Seen OPAQUE = new Seen("opaque", Optional.empty());
    }

    /**
     * Carries {@code client} (auto-read off, a {@link Relay#pending} handler last) to
     * {@code target}, or refuses it for the reason an unresolved target gives;
     * {@code passthrough} is where to go when discovery knows no endpoint, subject to the
     * egress policy.
     */
    void carry(Channel client, Target target, Optional<InetSocketAddress> passthrough, Seen seen) {
        if (target instanceof Target.Resolved resolved) {
            // The Service's TCPRoute, if any, picks where this connection goes: decided once, here.
            String backend = profiles.opaqueBackend(resolved.authority());
            if (backend.isEmpty()) {
                Openings.settle(client);
                ConnectionLog.OutboundConnection line = connectionLog.outbound(client, BoundListener.acceptedAt(client), source(), seen.protocol(),
                        Optional.of(resolved.authority()), seen.host());
                refuse(client, line, ProxyError.BACKEND_NOT_RESOLVED.because("the TCPRoute of " + resolved.authority()
                        + " chose a backend that does not exist or cannot be referred to (see the route's status)"), Optional.empty());
                return;
            }
            if (!backend.equals(resolved.authority())) {
                // The backend is a Service discovery knows: no passthrough.
                targets.resolve(backend, client.eventLoop(), chosen -> carryTo(client, chosen, Optional.empty(), seen));
                return;
            }
        }
        carryTo(client, target, passthrough, seen);
    }

    /** Carries {@code client} to {@code target}, where it goes now that any TCPRoute has been followed. */
    private void carryTo(Channel client, Target target, Optional<InetSocketAddress> passthrough, Seen seen) {
        // From here on the proxy, not the client, is what the connection waits for.
        Openings.settle(client);
        Instant start = BoundListener.acceptedAt(client);
        String authority = target.authority();
        log.debug("proxy: accepted {} for {}", client.remoteAddress(), authority);
        ConnectionLog.OutboundConnection line = connectionLog.outbound(client, start, source(), seen.protocol(), Optional.of(authority), seen.host());
        switch (target) {
            case Target.Unresolved unresolved -> refuse(client, line, unresolved.why(), Optional.empty());
            case Target.Resolved resolved -> {
                EndpointSet endpoints = resolved.endpoints();
                if (endpoints.isEmpty() && passthrough.isPresent()) {
                    passThrough(client, line, passthrough.get(), seen);
                } else {
                    attempt(client, line, authority, endpoints, 1, java.util.Set.of());
                }
            }
        }
    }

    /** Tries endpoints until one connects, never the same one twice, at most {@value #ATTEMPTS}. */
    private void attempt(Channel client, ConnectionLog.OutboundConnection line, String authority, EndpointSet endpoints, int attempt,
                         java.util.Set<InetSocketAddress> failed) {
        log.debug("proxy: {} -> {}: {} endpoints known, attempt {}", client.remoteAddress(), authority, endpoints.endpoints().size(), attempt);
        if (!client.isActive()) {
            return;
        }
        var lease = balancer.pick(endpoints.endpoints().stream().filter(e -> !failed.contains(e.address())).toList());
        if (lease.isEmpty()) {
            ProxyFailure why = failed.isEmpty()
                    ? ProxyError.NO_ENDPOINTS.because(authority + (endpoints.exists() ? " has no endpoints" : " is unknown to discovery"))
                    : ProxyError.CONNECT_FAILED.because(authority + ": every endpoint failed (" + failed.size() + " tried)");
            refuse(client, line, why, Optional.empty());
            return;
        }
        Balancer.Lease chosen = lease.get();
        connector.connectOpaque(chosen.endpoint(), authority, client.eventLoop()).addListener(f -> {
            if (!f.isSuccess()) {
                chosen.failed();
                ProxyError error = ProxyFailure.errorOf(f.cause(), ProxyError.CONNECT_FAILED);
                boolean again = attempt < ATTEMPTS && error == ProxyError.CONNECT_FAILED;
                log.info("proxy: {} -> {}: {}{}", client.remoteAddress(), authority, f.cause().getMessage(), again ? "; trying another endpoint" : "");
                if (again) {
                    java.util.Set<InetSocketAddress> tried = new java.util.HashSet<>(failed);
                    tried.add(chosen.endpoint().address());
                    attempt(client, line, authority, endpoints, attempt + 1, tried);
                } else {
                    refuse(client, line, error.because(f.cause().getMessage()), Optional.of(chosen.endpoint().address().toString()));
                }
                return;
            }
            chosen.succeeded();
            Channel server = (Channel) f.getNow();
            log.debug("proxy: {} -> {}: connected to {} (attempt {})", client.remoteAddress(), authority, chosen.endpoint().address(), attempt);
            if (!client.isActive()) {
                server.close();
                return;
            }
            String serverId = chosen.endpoint().identity().map(i -> i.spiffeId()).orElse(null);
            ProxyMetrics.Labels labels = new ProxyMetrics.Labels(Direction.OUTBOUND, authority, serverId != null, serverId);
            metrics.opened(labels);
            Relay.Counts counts = Relay.join(client, server);
            line.carried(chosen.endpoint().address().toString(), serverId, serverId != null, counts::fromFirst, counts::fromSecond, "allowed");
            client.closeFuture().addListener(closed -> metrics.closed(labels, counts.fromFirst(), counts.fromSecond()));
        });
    }

    private void refuse(Channel client, ConnectionLog.OutboundConnection line, ProxyFailure why, Optional<String> destination) {
        metrics.refused(Direction.OUTBOUND, why.error().label());
        log.info("proxy: {} refused ({}): {}", client.remoteAddress(), why.error().label(), why.getMessage());
        line.refuse(why.error(), destination, why.getMessage());
        client.close();
    }

    private String source() {
        WorkloadIdentity self = credentials.identity();
        return self.spiffeId();
    }

    private void passThrough(Channel client, ConnectionLog.OutboundConnection line, InetSocketAddress destination, Seen seen) {
        egress.decide(destination, seen.host(), client.eventLoop(), verdict -> {
            if (verdict.blocked()) {
                deny(client, line, destination, seen, verdict);
            } else {
                connectDirect(client, line, destination, verdict);
            }
        });
    }

    private void deny(Channel client, ConnectionLog.OutboundConnection line, InetSocketAddress destination, Seen seen, EgressGate.Verdict verdict) {
        metrics.refused(Direction.OUTBOUND, ProxyError.EGRESS_DENIED.label());
        log.info("proxy: {} -> {} ({}) denied by the egress policy", client.remoteAddress(), destination, seen.host().orElse("no host"));
        line.refuse(ProxyError.EGRESS_DENIED, Optional.of(destination.toString()), verdict.reason());
        if (seen.protocol().equals("http1")) {
            // An HTTP client gets a reason, as for any request the proxy refuses.
            client.pipeline().addFirst(new HttpResponseEncoder());
            client.writeAndFlush(ProxyErrors.response(ProxyError.EGRESS_DENIED)).addListener(ChannelFutureListener.CLOSE);
        } else {
            client.close();
        }
    }

    private void connectDirect(Channel client, ConnectionLog.OutboundConnection line, InetSocketAddress destination, EgressGate.Verdict verdict) {
        io.connect(new Bootstrap().group(client.eventLoop())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast("pending", Relay.pending());
                    }
                }), destination)
                .addListener((Future<Channel> connected) -> {
                    if (!connected.isSuccess()) {
                        refuse(client, line, ProxyError.CONNECT_FAILED.because(destination + ": " + Causes.rootMessage(connected.cause())),
                                Optional.of(destination.toString()));
                        return;
                    }
                    if (!client.isActive()) {
                        connected.getNow().close();
                        return;
                    }
                    String authority = destination.getAddress().getHostAddress() + ":" + destination.getPort();
                    ProxyMetrics.Labels labels = new ProxyMetrics.Labels(Direction.OUTBOUND, authority, false, null);
                    metrics.opened(labels);
                    Relay.Counts counts = Relay.join(client, connected.getNow());
                    line.carried(destination.toString(), null, false, counts::fromFirst, counts::fromSecond, verdict.logValue());
                    client.closeFuture().addListener(closed -> metrics.closed(labels, counts.fromFirst(), counts.fromSecond()));
                });
    }
}
