package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.http.Refusals;
import dev.trellis.proxy.transport.HalfClosure;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.discovery.Endpoint;
import dev.trellis.proxy.discovery.Resolution;
import dev.trellis.proxy.discovery.RouteProfiles;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.http.DrainHandlers;
import dev.trellis.proxy.http.H2HeaderDeadline;
import dev.trellis.proxy.http.H2ServerCodecs;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.http.ProxyErrors;
import dev.trellis.proxy.http.RequestOutcomes;
import dev.trellis.proxy.http.ResponseStatus;
import dev.trellis.proxy.http.StreamRelay;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.Openings;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound HTTP/2 path (gRPC included): the app's connection is served as HTTP/2, and each
 * of its streams is balanced on its own and joined, frame by frame, to a new stream on the
 * chosen endpoint's mTLS connection — bodies and gRPC streams flow through without buffering.
 * The first headers carry {@value MeshHeaders#TARGET_PORT} and
 * {@value MeshHeaders#APP_PROTOCOL} so the server's proxy speaks HTTP/2 to its app as well.
 * A stream whose endpoint cannot be connected to goes to another endpoint (nothing of it has
 * left yet), as the retry layer allows ({@link Attempts#mayResendUnprocessed}); failures before an endpoint's stream exists are answered
 * with {@code :status} 503/502 and {@code trellis-proxy-error}. Thread-safe; one instance serves every connection.
 */
final class H2Outbound {

    private static final Logger log = LoggerFactory.getLogger(H2Outbound.class);

    private final Targets targets;
    private final Balancer balancer;
    private final H2Connections connections;
    private final HttpMetrics metrics;
    private final Refusals refusals;
    private final Duration headerTimeout;
    private final RouteProfiles profiles;
    private final RetryBudgets budgets;

    H2Outbound(Targets targets, Balancer balancer, H2Connections connections,
               HttpMetrics metrics, Duration headerTimeout, RouteProfiles profiles, RetryBudgets budgets) {
        this.headerTimeout = requireNonNull(headerTimeout, "headerTimeout");
        this.budgets = requireNonNull(budgets, "budgets");
        this.profiles = requireNonNull(profiles, "profiles");
        this.targets = requireNonNull(targets, "targets");
        this.balancer = requireNonNull(balancer, "balancer");
        this.connections = requireNonNull(connections, "connections");
        this.metrics = requireNonNull(metrics, "metrics");
        this.refusals = new Refusals(Direction.OUTBOUND, metrics);
    }

    /**
     * Serves {@code client} (auto-read off, its first bytes held by a pending handler) as
     * HTTP/2 whose streams go to {@code target}, which its listener resolved: the codec's
     * bounds, and the request-head deadline on its SETTINGS and every header block
     * ({@link H2HeaderDeadline}).
     */
    void install(Channel client, Target target) {
        String authority = target.authority();
        Targets.OfConnection connectionTargets = targets.ofConnection(Optional.of(target));
        // The connection is past its opening: the codec and the header deadline bound it from here.
        Openings.settle(client);
        client.pipeline().addBefore("pending", "head-deadline", new H2HeaderDeadline(headerTimeout, true,
                why -> refusals.refused(client, "HTTP/2 connection", authority, ProxyError.HEADER_TIMEOUT.because(why))));
        client.pipeline().addBefore("pending", "h2", H2ServerCodecs.server());
        client.pipeline().addBefore("pending", "mux", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel stream) {
                stream.pipeline().addLast(new FirstHeaders(connectionTargets, authority));
            }
        }));
        client.pipeline().addBefore("pending", "drain", DrainHandlers.http2());
        Relay.replay(client);
        HalfClosure.notCarried(client);
        client.config().setAutoRead(true);
    }

    /** Waits for a stream's request headers, then opens its peer stream. */
    private final class FirstHeaders extends ChannelInboundHandlerAdapter {
        private final Targets.OfConnection connectionTargets;
        private final String authority;

        FirstHeaders(Targets.OfConnection connectionTargets, String authority) {
            this.connectionTargets = connectionTargets;
            this.authority = authority;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof Http2HeadersFrame headers)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            Channel stream = ctx.channel();
            log.debug("proxy: HTTP/2 stream {} to {}: {} {}", stream.id(), authority, headers.headers().method(), headers.headers().path());
            stream.config().setAutoRead(false);
            ctx.pipeline().replace(this, "held", Relay.pending());
            metrics.request(Direction.OUTBOUND, authority);
            budgets.of(authority).request();
            long started = System.nanoTime();
            connectionTargets.resolve(authority, stream.eventLoop(), target -> {
                if (!(target instanceof Target.Resolved resolved)) {
                    answer(stream, headers.headers(), ((Target.Unresolved) target).why(), started);
                    return;
                }
                Resolution resolution = resolved.resolution();
                RouteProfiles.MatchedRoute route = profiles.match(authority, String.valueOf(headers.headers().method()), String.valueOf(headers.headers().path()));
                // Opened once the current read is processed, so that a stream reset in the same read never goes upstream.
                Attempts attempts = new Attempts(false, budgets.of(authority));
                stream.eventLoop().execute(() -> attempt(stream, headers.headers(), headers.isEndStream(), resolution, started, route, attempts));
            });
        }

        /**
         * Opens the stream on an endpoint not tried before. Nothing of the request has left while
         * the connection or the stream cannot be made, so any call may go to another endpoint
         * then, as far as {@link Attempts} allows a request no endpoint processed; an endpoint
         * that presents the wrong identity is not tried again elsewhere (that is no outage).
         */
        private void attempt(Channel stream, Http2Headers requestHeaders, boolean endStream, Resolution resolution, long started,
                             RouteProfiles.MatchedRoute route, Attempts attempts) {
            if (!stream.isActive()) {
                return;
            }
            attempts.begin();
            java.util.Set<java.net.InetSocketAddress> failed = attempts.avoid();
            // Never the same endpoint twice for one stream.
            List<Endpoint> meshed = resolution.current().meshed();
            var lease = balancer.pick(failed.isEmpty() ? meshed : meshed.stream().filter(e -> !failed.contains(e.address())).toList());
            if (lease.isEmpty()) {
                answer(stream, requestHeaders, failed.isEmpty() ? NoUsableEndpoint.why(authority, resolution.current())
                        : ProxyError.CONNECT_FAILED.because(authority + ": every endpoint failed (" + failed.size() + " tried)"), started);
                return;
            }
            open(stream, requestHeaders, endStream, lease.get(), started, route, cannotOpen -> {
                boolean again = cannotOpen.error() == ProxyError.CONNECT_FAILED && stream.isActive() && attempts.mayResendUnprocessed(true);
                if (!again) {
                    answer(stream, requestHeaders, cannotOpen, started);
                    return;
                }
                log.info("proxy: HTTP/2 stream to {}: {}; trying another endpoint", authority, cannotOpen.getMessage());
                attempts.failedOn(lease.get().endpoint().address());
                attempt(stream, requestHeaders, endStream, resolution, started, route, attempts);
            });
        }

        /** Opens the stream on {@code lease}'s endpoint and joins it to {@code stream}; {@code cannotOpen} hears why not, before anything was sent. */
        private void open(Channel stream, Http2Headers requestHeaders, boolean endStream, Balancer.Lease lease, long started, RouteProfiles.MatchedRoute route,
                          java.util.function.Consumer<ProxyFailure> cannotOpen) {
            connections.connection(lease.endpoint(), stream.eventLoop()).addListener(connected -> {
                if (!connected.isSuccess()) {
                    lease.failed();
                    cannotOpen.accept(ProxyFailure.errorOf(connected.cause(), ProxyError.CONNECT_FAILED).because(connected.cause().getMessage()));
                    return;
                }
                new Http2StreamChannelBootstrap((Channel) connected.getNow()).open().addListener(opened -> {
                    if (!opened.isSuccess() || !stream.isActive()) {
                        lease.failed();
                        if (opened.isSuccess()) {
                            ((Channel) opened.getNow()).close();
                        }
                        cannotOpen.accept(ProxyError.CONNECT_FAILED.because(lease.endpoint().address() + ": no stream could be opened"
                                + (opened.isSuccess() ? " (the caller left)" : ": " + Causes.rootMessage(opened.cause()))));
                        return;
                    }
                    RequestOutcomes.of(stream).forwarded();
                    Http2StreamChannel upstream = (Http2StreamChannel) opened.getNow();
                    java.util.concurrent.atomic.AtomicBoolean timedOut = new java.util.concurrent.atomic.AtomicBoolean();
                    log.debug("proxy: HTTP/2 stream {} joined to {} on {}", stream.id(), upstream.id(), lease.endpoint().address());
                    Http2Headers forwarded = new DefaultHttp2Headers().add(requestHeaders);
                    MeshHeaders.strip(forwarded);
                    forwarded.set(MeshHeaders.TARGET_PORT, Integer.toString(lease.endpoint().address().getPort()));
                    forwarded.set(MeshHeaders.APP_PROTOCOL, "h2");
                    upstream.config().setAutoRead(false);
                    lease.restartClock();
                    upstream.pipeline().addLast("lease", new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            // The response's first headers settle the lease.
                            if (msg instanceof Http2HeadersFrame response && response.headers().status() != null) {
                                int status = Integer.parseInt(response.headers().status().toString());
                                if ((status == 502 || status == 503) && response.headers().contains(MeshHeaders.PROXY_ERROR)) {
                                    lease.failed();
                                } else {
                                    lease.succeeded();
                                }
                                ctx.pipeline().remove(this);
                            }
                            ctx.fireChannelRead(msg);
                        }
                    });
                    ResponseStatus seen = new ResponseStatus();
                    upstream.pipeline().addFirst("status", seen);
                    upstream.writeAndFlush(new DefaultHttp2HeadersFrame(forwarded, endStream));
                    StreamRelay.join(stream, upstream);
                    // The route's timeout: before a response began the caller gets 504 (DEADLINE_EXCEEDED for gRPC); after, the stream is reset.
                    var timeout = route.timeout().map(t -> stream.eventLoop().schedule(() -> {
                        if (!upstream.isActive()) {
                            return;
                        }
                        timedOut.set(true);
                        if (!seen.headersSeen()) {
                            answer(stream, requestHeaders, ProxyError.REQUEST_TIMEOUT.because("no response from " + lease.endpoint().address() + " within " + t), started);
                        } else {
                            stream.close();
                        }
                        upstream.close();
                    }, t.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS));
                    upstream.closeFuture().addListener(f -> {
                        timeout.ifPresent(task -> task.cancel(false));
                        lease.failed();
                        if (!timedOut.get()) {
                            Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
                            metrics.response(Direction.OUTBOUND, authority, seen.status(), seen.grpcStatus(), elapsed);
                            metrics.routeResponse(authority, HttpMetrics.Destination.of(lease.endpoint().labels()), route.name(), seen.status(), seen.grpcStatus(), elapsed);
                        }
                    });
                });
            });
        }

        /** The proxy answers a stream itself: logged, counted, a line in the connection log. */
        private void answer(Channel stream, Http2Headers request, ProxyFailure why, long started) {
            boolean grpc = ProxyErrors.isGrpc(request);
            metrics.response(Direction.OUTBOUND, authority, grpc ? 200 : why.error().httpStatus(),
                    grpc ? java.util.Optional.of(why.error().grpcCode().value()) : java.util.Optional.empty(), Duration.ofNanos(System.nanoTime() - started));
            refusals.refused(stream, request.method() + " " + request.path(), authority, why);
            if (stream.isActive()) {
                stream.writeAndFlush(new DefaultHttp2HeadersFrame(ProxyErrors.h2(why.error(), grpc), true))
                        // Done with this stream: closing it releases whatever of the request is still held or queued.
                        .addListener(ChannelFutureListener.CLOSE);
            }
        }
    }
}
