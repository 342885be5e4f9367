package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.discovery.Discovery;
import dev.trellis.proxy.discovery.EndpointSet;
import dev.trellis.proxy.discovery.Resolution;
import dev.trellis.proxy.metrics.ProxyMetrics;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.tls.context.CredentialsStore;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.group.ChannelGroup;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A local port for one opaque destination ({@code --forward PORT=authority}): every
 * connection to it is carried to an endpoint of {@code authority}, picked by the balancer,
 * over mTLS when the endpoint is meshed. Nothing is read from the client until the far
 * side is connected, and the client is never asked to speak first, so server-speaks-first
 * protocols work. Up to {@value #ATTEMPTS} endpoints are tried when a connection fails before
 * any byte moved. Every connection writes one line to the {@link ConnectionLog}.
 */
public final class ForwardListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ForwardListener.class);

    static final int ATTEMPTS = 3;

    /** {@code listen} forwards to {@code authority} ({@code host:port}). */
    public record Forward(HostPort listen, String authority) {
        public Forward {
            requireNonNull(listen, "listen");
            requireNonNull(authority, "authority");
            HostPort.parse(authority);
        }

        /** Parses {@code PORT=authority} (loopback) or {@code HOST:PORT=authority}. */
        public static Forward parse(String text) {
            int equals = text.indexOf('=');
            if (equals <= 0 || equals == text.length() - 1) {
                throw new IllegalArgumentException("forward: '" + text + "' is not PORT=host:port or HOST:PORT=host:port");
            }
            String listen = text.substring(0, equals).strip();
            HostPort address = listen.chars().allMatch(Character::isDigit)
                    ? new HostPort("127.0.0.1", Integer.parseInt(listen)) : HostPort.parse(listen);
            return new Forward(address, text.substring(equals + 1).strip());
        }
    }

    private final Forward forward;
    private final IoRuntime io;
    private final MeshConnector connector;
    private final Discovery discovery;
    private final Balancer balancer;
    private final CredentialsStore credentials;
    private final ProxyMetrics metrics;
    private final ConnectionLog connectionLog;
    private final Duration resolveTimeout;
    private final ChannelGroup connections = BoundListener.newConnectionGroup("forward");
    private BoundListener listener;

    public ForwardListener(Forward forward, IoRuntime io, MeshConnector connector, Discovery discovery, Balancer balancer,
                           CredentialsStore credentials, ProxyMetrics metrics, ConnectionLog connectionLog, Duration resolveTimeout) {
        this.forward = requireNonNull(forward, "forward");
        this.io = requireNonNull(io, "io");
        this.connector = requireNonNull(connector, "connector");
        this.discovery = requireNonNull(discovery, "discovery");
        this.balancer = requireNonNull(balancer, "balancer");
        this.credentials = requireNonNull(credentials, "credentials");
        this.metrics = requireNonNull(metrics, "metrics");
        this.connectionLog = requireNonNull(connectionLog, "connectionLog");
        this.resolveTimeout = requireNonNull(resolveTimeout, "resolveTimeout");
    }

    /** Binds the local port. */
    public ForwardListener start() throws InterruptedException {
        ChannelFuture bound = new ServerBootstrap()
                .group(io.group())
                .channel(io.serverChannelType())
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.add(ch);
                        ch.pipeline().addLast("pending", Relay.pending());
                        accepted(ch);
                    }
                })
                .bind(forward.listen().toSocketAddress()).await();
        if (!bound.isSuccess()) {
            throw new IllegalStateException("proxy: cannot listen on " + forward.listen() + " for " + forward.authority() + ": "
                    + bound.cause().getMessage(), bound.cause());
        }
        listener = new BoundListener(bound.channel(), connections);
        log.info("proxy: forwarding {} to {}", address(), forward.authority());
        return this;
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    public int openConnections() {
        return listener.openConnections();
    }

    private void accepted(Channel client) {
        Instant start = Instant.now();
        log.debug("proxy: accepted {} for {}", client.remoteAddress(), forward.authority());
        Resolution resolution;
        try {
            resolution = discovery.resolve(forward.authority());
        } catch (IllegalStateException e) {
            refuse(client, start, "resolution_refused", e.getMessage());
            return;
        }
        CompletableFuture.allOf(resolution.firstAnswer(), credentials.firstInstalled())
                .orTimeout(resolveTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((ignored, error) -> client.eventLoop().execute(() -> {
                    if (error != null) {
                        refuse(client, start, "resolve_timeout", "no answer from discovery or identity within " + resolveTimeout);
                        return;
                    }
                    attempt(client, start, resolution.current(), 1);
                }));
    }

    private void attempt(Channel client, Instant start, EndpointSet endpoints, int attempt) {
        log.debug("proxy: {} -> {}: {} endpoints known, attempt {}", client.remoteAddress(), forward.authority(), endpoints.endpoints().size(), attempt);
        if (!client.isActive()) {
            return;
        }
        var lease = balancer.pick(endpoints.endpoints());
        if (lease.isEmpty()) {
            refuse(client, start, "no_endpoints", forward.authority() + (endpoints.exists() ? " has no endpoints" : " is unknown to discovery"));
            return;
        }
        Balancer.Lease chosen = lease.get();
        connector.connectOpaque(chosen.endpoint(), forward.authority(), client.eventLoop()).addListener(f -> {
            if (!f.isSuccess()) {
                chosen.failed();
                log.info("proxy: {} -> {}: {}{}", client.remoteAddress(), forward.authority(), f.cause().getMessage(),
                        attempt < ATTEMPTS ? "; trying another endpoint" : "");
                if (attempt < ATTEMPTS) {
                    attempt(client, start, endpoints, attempt + 1);
                } else {
                    refuse(client, start, "connect_failed", f.cause().getMessage());
                }
                return;
            }
            chosen.succeeded();
            Channel server = (Channel) f.getNow();
            log.debug("proxy: {} -> {}: connected to {} (attempt {})", client.remoteAddress(), forward.authority(), chosen.endpoint().address(), attempt);
            if (!client.isActive()) {
                server.close();
                return;
            }
            String serverId = chosen.endpoint().identity().map(i -> i.spiffeId()).orElse(null);
            ProxyMetrics.Labels labels = new ProxyMetrics.Labels("outbound", forward.authority(), serverId != null, serverId);
            metrics.opened(labels);
            Relay.Counts counts = Relay.join(client, server);
            client.closeFuture().addListener(closed -> {
                metrics.closed(labels, counts.fromFirst(), counts.fromSecond());
                connectionLog.record(new ConnectionLog.Entry(start, source(), chosen.endpoint().address().toString(), forward.authority(),
                        "opaque", serverId != null, serverId, counts.fromFirst(), counts.fromSecond(),
                        Duration.between(start, Instant.now()), "allowed"));
            });
        });
    }

    private void refuse(Channel client, Instant start, String reason, String detail) {
        metrics.refused("outbound", reason);
        log.info("proxy: {} -> {} refused: {}", client.remoteAddress(), forward.authority(), detail);
        connectionLog.record(new ConnectionLog.Entry(start, source(), null, forward.authority(), "opaque", false, null, 0, 0,
                Duration.between(start, Instant.now()), reason));
        client.close();
    }

    private String source() {
        WorkloadIdentity self = credentials.identity();
        return self.spiffeId();
    }

    public void stopAccepting() {
        listener.stopAccepting();
    }

    public void closeConnections() {
        listener.closeConnections();
    }

    @Override
    public void close() {
        stopAccepting();
        closeConnections();
    }
}
