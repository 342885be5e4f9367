package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.metrics.Direction;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.transport.HalfClosure;
import dev.trellis.proxy.connlog.ConnectionLog;
import dev.trellis.proxy.detect.Detection;
import dev.trellis.proxy.detect.ProtocolDetector;
import dev.trellis.proxy.discovery.Endpoint;
import dev.trellis.proxy.discovery.EndpointSet;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.metrics.ProxyMetrics;
import dev.trellis.proxy.policy.EgressGate;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.tcp.RequestHead;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.Openings;
import dev.trellis.proxy.transport.OriginalDestination;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound listener (default 127.0.0.1:4140).
 *
 * <p>Transparent mode: iptables redirects the app's outbound TCP here; the original
 * destination, read with {@code SO_ORIGINAL_DST}, is resolved as the authority
 * {@code ip:port} (discovery maps pod and service addresses to endpoints). HTTP/1 to meshed
 * endpoints takes the {@link HttpOutbound} path (per-request balancing over HTTP/2), HTTP/2
 * and gRPC the {@link H2Outbound} path (per stream); anything else — other protocols, opaque ports (no detection at all), destinations discovery does
 * not know — is carried by {@link OpaqueOutbound}, to a meshed endpoint over mTLS or straight
 * to the original destination.
 *
 * <p>Explicit mode: a connection that was not redirected is an app using this listener as
 * its HTTP proxy; it must speak HTTP/1 and name its target (absolute URI or Host).
 */
final class TransparentListener {

    private static final Logger log = LoggerFactory.getLogger(TransparentListener.class);

    private final HostPort listen;
    private final IoRuntime io;
    private final OpaqueOutbound outbound;
    private final ProxyMetrics metrics;
    private final HttpOutbound http;
    private final H2Outbound h2;
    private final HttpConnectionLog httpLog;
    private final ConnectionLog connectionLog;
    private final String self;
    private final Targets targets;
    private final java.util.Set<Integer> opaquePorts;
    private final java.time.Duration detectTimeout;
    private final java.time.Duration headerTimeout;
    private final Openings openings;
    private BoundListener listener;

    TransparentListener(HostPort listen, IoRuntime io, OpaqueOutbound outbound, HttpOutbound http, H2Outbound h2, HttpConnectionLog httpLog,
                               ConnectionLog connectionLog, String self, Targets targets,
                               ProxyMetrics metrics, java.util.Set<Integer> opaquePorts, java.time.Duration detectTimeout, java.time.Duration headerTimeout,
                               int maxOpeningPerSource) {
        this.openings = new Openings(maxOpeningPerSource);
        this.listen = requireNonNull(listen, "listen");
        this.io = requireNonNull(io, "io");
        this.outbound = requireNonNull(outbound, "outbound");
        this.http = requireNonNull(http, "http");
        this.h2 = requireNonNull(h2, "h2");
        this.httpLog = requireNonNull(httpLog, "httpLog");
        this.connectionLog = requireNonNull(connectionLog, "connectionLog");
        this.self = requireNonNull(self, "self");
        this.targets = requireNonNull(targets, "targets");
        this.metrics = requireNonNull(metrics, "metrics");
        this.opaquePorts = java.util.Set.copyOf(opaquePorts);
        this.detectTimeout = requireNonNull(detectTimeout, "detectTimeout");
        this.headerTimeout = requireNonNull(headerTimeout, "headerTimeout");
    }

    TransparentListener start() throws InterruptedException {
        if (!io.isEpoll()) {
            log.warn("proxy: epoll is not available; the outbound listener on {} cannot read original destinations and will refuse connections", listen);
        }
        listener = BoundListener.bind(io, listen, "outbound", false, Optional.of(openings), ch -> {
                HalfClosure.allow(ch);
                ch.pipeline().addLast("pending", Relay.pending());
                Optional<InetSocketAddress> original = OriginalDestination.of(ch);
                if (original.isEmpty() || isThisListener(original.get())) {
                    // Not redirected: the app uses this listener as its HTTP proxy.
                    ProtocolDetector.detectThen(ch, detectTimeout, detection -> {
                        if (detection.protocol() == Detection.Protocol.HTTP1) {
                            httpLog.attach(ch, Optional.empty(), "http1");
                            http.install(ch, Optional.empty());
                            Relay.replay(ch);
                            ch.config().setAutoRead(true);
                        } else {
                            // HTTP/2 needs an authority the explicit proxy cannot learn before the first stream; use --forward http://.
                            ProxyFailure why = ProxyError.NO_ORIGINAL_DESTINATION.because("the connection was not redirected and speaks "
                                    + detection.protocol() + ", not HTTP/1; use --forward for it");
                            metrics.refused(Direction.OUTBOUND, why.error().label());
                            log.info("proxy: outbound connection from {} refused: {}", ch.remoteAddress(), why.getMessage());
                            connectionLog.outbound(ch, BoundListener.acceptedAt(ch), self, detection.protocol().name().toLowerCase(java.util.Locale.ROOT),
                                    Optional.empty(), detection.sni()).refuse(why.error(), Optional.empty(), why.getMessage());
                            ch.close();
                        }
                    });
                    return;
                }
                InetSocketAddress destination = original.get();
                String authority = destination.getAddress().getHostAddress() + ":" + destination.getPort();
                // Resolved once, here: the answer picks the path, and the path carries it without asking again.
                targets.resolve(authority, ch.eventLoop(), target -> dispatch(ch, target, destination));
        });
        log.info("proxy: outbound (transparent) listening on {}", listener.address());
        return this;
    }

    /**
     * A destination discovery cannot answer for is refused; one it marks opaque (a
     * server-speaks-first protocol), or an opaque port, is carried without waiting for the app
     * to speak; anything else once its protocol is known, since whether the endpoints are
     * meshed decides the HTTP path.
     */
    private void dispatch(Channel ch, Target target, InetSocketAddress destination) {
        if (!(target instanceof Target.Resolved resolved)) {
            outbound.carry(ch, target, Optional.of(destination), OpaqueOutbound.Seen.OPAQUE);
            return;
        }
        EndpointSet endpoints = resolved.endpoints();
        if (opaquePorts.contains(destination.getPort()) || endpoints.endpoints().stream().anyMatch(Endpoint::opaque)) {
            outbound.carry(ch, resolved, Optional.of(destination), OpaqueOutbound.Seen.OPAQUE);
            return;
        }
        boolean meshed = !endpoints.meshed().isEmpty();
        ProtocolDetector.detectThen(ch, detectTimeout, detection -> carryDetected(ch, detection, resolved, destination, meshed));
    }

    /** HTTP to meshed endpoints rides the HTTP path; everything else is carried opaque, HTTP/1 leaving the mesh once its head is read. */
    private void carryDetected(Channel ch, Detection detection, Target.Resolved target, InetSocketAddress destination, boolean meshed) {
        String authority = target.authority();
        if (meshed && detection.protocol() == Detection.Protocol.HTTP2) {
            httpLog.attach(ch, Optional.of(authority), "http2");
            h2.install(ch, target);
        } else if (meshed && detection.protocol() == Detection.Protocol.HTTP1) {
            httpLog.attach(ch, Optional.of(authority), "http1");
            http.install(ch, Optional.of(target));
        } else if (detection.protocol() == Detection.Protocol.HTTP1) {
            // Leaving the mesh: the egress policy needs the Host, which only the whole head holds.
            RequestHead.read(ch, headerTimeout, head -> {
                if (head.isEmpty()) {
                    ProxyFailure why = HalfClosure.inputEnded(ch)
                            ? ProxyError.HEADER_TIMEOUT.because("the client ended its side before its HTTP/1 request head was whole")
                            : ProxyError.HEADER_TIMEOUT.because("no complete HTTP/1 request head within " + headerTimeout + " or " + RequestHead.MAX_HEAD + " bytes");
                    metrics.refused(Direction.OUTBOUND, why.error().label());
                    connectionLog.outbound(ch, BoundListener.acceptedAt(ch), self, "http1", Optional.of(authority), Optional.empty())
                            .refuse(why.error(), Optional.of(destination.toString()), why.getMessage());
                    ch.close();
                    return;
                }
                outbound.carry(ch, target, Optional.of(destination), new OpaqueOutbound.Seen("http1", EgressGate.httpHost(head.get())));
            });
        } else {
            outbound.carry(ch, target, Optional.of(destination), seen(detection));
        }
    }

    /** The protocol and the host the app named (TLS SNI), for egress policy and the connection log. */
    private static OpaqueOutbound.Seen seen(Detection detection) {
        return switch (detection.protocol()) {
            case TLS -> new OpaqueOutbound.Seen("tls", detection.sni());
            case HTTP1 -> new OpaqueOutbound.Seen("http1", Optional.empty());
            case HTTP2 -> new OpaqueOutbound.Seen("http2", Optional.empty());
            default -> OpaqueOutbound.Seen.OPAQUE;
        };
    }

    private boolean isThisListener(InetSocketAddress destination) {
        InetSocketAddress self = listener == null ? null : listener.address();
        return self != null && destination.getPort() == self.getPort()
                && (destination.getAddress().isLoopbackAddress() || destination.getAddress().equals(self.getAddress()));
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    /** The bound listener and its connections, for draining. */
    public BoundListener listener() {
        return listener;
    }
}
