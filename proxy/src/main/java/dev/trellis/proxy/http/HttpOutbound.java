package dev.trellis.proxy.http;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.discovery.Discovery;
import dev.trellis.proxy.discovery.EndpointSet;
import dev.trellis.proxy.discovery.Resolution;
import dev.trellis.proxy.discovery.RouteProfiles;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.transport.Openings;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.tls.context.CredentialsStore;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound HTTP/1.1 path. On a client connection: parse requests (limits below), find
 * each request's authority (the connection's original destination in transparent mode; the
 * absolute request target or {@code Host} when the app uses the proxy as its HTTP proxy),
 * resolve it, pick an endpoint per request, and send the request as an HTTP/2 stream over
 * the endpoint's mTLS connection, with {@value MeshHeaders#TARGET_PORT} naming the app port.
 * The response goes back as HTTP/1.1.
 *
 * <p>The proxy answers itself, with a {@code trellis-proxy-error} header, when there are no
 * endpoints (503), the endpoint cannot be reached or is not who discovery said (502), or the
 * request times out (504). A 502/503 made by the endpoint's own proxy (its app is down) counts
 * as the endpoint failing. Idempotent requests that failed that way, or before any response,
 * are tried once more, on the endpoint the balancer picks next (failing ones are ejected),
 * while the authority's {@link RetryBudget} (20 % of requests + 10/s over 10 s) allows. A
 * request a draining endpoint refused unprocessed (HTTP/2 GOAWAY) goes elsewhere whatever its
 * method, outside the budget: it was never processed.
 * Requests on one connection are handled one at a time.
 *
 * <p>Limits: request line 8 KiB, headers 16 KiB, body {@value #MAX_BODY_BYTES} bytes (413
 * beyond). One instance serves every connection; thread-safe.
 */
public final class HttpOutbound {

    private static final Logger log = LoggerFactory.getLogger(HttpOutbound.class);

    public static final int MAX_BODY_BYTES = 8 * 1024 * 1024;
    static final int MAX_RETRYABLE_BODY_BYTES = 64 * 1024;
    private static final Set<HttpMethod> IDEMPOTENT = Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.OPTIONS,
            HttpMethod.PUT, HttpMethod.DELETE, HttpMethod.TRACE);

    /** Attempts for a request refused unprocessed by draining endpoints (each excluded in turn). */
    private static final int MAX_ATTEMPTS_UNPROCESSED = 4;

    private final Discovery discovery;
    private final Balancer balancer;
    private final H2Connections connections;
    private final CredentialsStore credentials;
    private final HttpMetrics metrics;
    private final Duration requestTimeout;
    private final Duration resolveTimeout;
    private final RouteProfiles profiles;
    private final java.util.concurrent.ConcurrentHashMap<String, RetryBudget> budgets = new java.util.concurrent.ConcurrentHashMap<>();
    private final Duration headerTimeout;
    private volatile boolean draining;

    public HttpOutbound(Discovery discovery, Balancer balancer, H2Connections connections, CredentialsStore credentials,
                        HttpMetrics metrics, Duration requestTimeout, Duration resolveTimeout, Duration headerTimeout, RouteProfiles profiles) {
        this.headerTimeout = requireNonNull(headerTimeout, "headerTimeout");
        this.profiles = requireNonNull(profiles, "profiles");
        this.discovery = requireNonNull(discovery, "discovery");
        this.balancer = requireNonNull(balancer, "balancer");
        this.connections = requireNonNull(connections, "connections");
        this.credentials = requireNonNull(credentials, "credentials");
        this.metrics = requireNonNull(metrics, "metrics");
        this.requestTimeout = requireNonNull(requestTimeout, "requestTimeout");
        this.resolveTimeout = requireNonNull(resolveTimeout, "resolveTimeout");
    }

    /**
     * From now on every response closes its connection ({@code Connection: close}), so that
     * clients take their next requests elsewhere while the proxy drains; requests already
     * sent are answered.
     */
    public void drain() {
        draining = true;
    }

    /**
     * Makes {@code client} (auto-read off, its first bytes held by a pending handler) an
     * HTTP/1.1 connection served by this path; {@code authority} is fixed for transparent
     * connections and forwards, and empty for the explicit HTTP proxy.
     */
    public void install(Channel client, Optional<String> authority) {
        client.pipeline()
                .addLast("request-deadline", new Http1RequestDeadline(headerTimeout))
                .addLast("http1", new HttpServerCodec(8192, 16384, 16384))
                .addLast("drain", DrainHandlers.http1())
                .addLast("aggregate", new HttpObjectAggregator(MAX_BODY_BYTES))
                .addLast("requests", new Requests(authority));
        Relay.replay(client);
        client.config().setAutoRead(true);
    }

    /**
     * A connection's requests, one at a time in arrival order: requests a client pipelines
     * (several in one write) wait until the one before has been answered, as HTTP/1.1 requires.
     */
    private final class Requests extends SimpleChannelInboundHandler<FullHttpRequest> {
        private static final int MAX_PIPELINED = 16;
        private final Optional<String> fixedAuthority;
        private final java.util.ArrayDeque<FullHttpRequest> waiting = new java.util.ArrayDeque<>();
        private boolean busy;

        Requests(Optional<String> fixedAuthority) {
            super(false);
            this.fixedAuthority = fixedAuthority;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            if (busy) {
                if (waiting.size() >= MAX_PIPELINED) {
                    request.release();
                    log.info("proxy: outbound HTTP from {} pipelined more than {} requests; closing", ctx.channel().remoteAddress(), MAX_PIPELINED);
                    ctx.close();
                    return;
                }
                waiting.add(request);
                return;
            }
            busy = true;
            // A whole request arrived: the connection is open for business, whatever its source's other connections do.
            Openings.settle(ctx.channel());
            handle(ctx, request);
        }

        /** The answer to the current request went out: the next pipelined one, or read on. */
        void answered(ChannelHandlerContext ctx) {
            Http1RequestDeadline.answered(ctx);
            FullHttpRequest next = waiting.poll();
            if (next != null) {
                handle(ctx, next);
                return;
            }
            busy = false;
            ctx.channel().config().setAutoRead(true);
            ctx.channel().read();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            waiting.forEach(FullHttpRequest::release);
            waiting.clear();
            super.channelInactive(ctx);
        }

        private void handle(ChannelHandlerContext ctx, FullHttpRequest request) {
            Http1RequestDeadline.requestComplete(ctx);
            if (!request.decoderResult().isSuccess()) {
                request.release();
                refuseUnrouted(ctx, ProxyError.BAD_REQUEST.because("malformed request: " + Causes.rootMessage(request.decoderResult().cause())));
                return;
            }
            Optional<String> authority = fixedAuthority.isPresent() ? fixedAuthority : authorityOf(request);
            if (authority.isEmpty()) {
                request.release();
                refuseUnrouted(ctx, ProxyError.NO_AUTHORITY.because("the request names no authority (absolute request target or Host)"));
                return;
            }
            MeshHeaders.strip(request.headers());
            ctx.channel().config().setAutoRead(false);
            long started = System.nanoTime();
            metrics.request("outbound", authority.get());
            budget(authority.get()).request();
            resolve(new Exchange(ctx, request, authority.get(), started, profiles.match(authority.get(), request.method().name(), request.uri())));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof io.netty.handler.codec.TooLongFrameException) {
                refuseUnrouted(ctx, ProxyError.REQUEST_TOO_LARGE.because(Causes.rootMessage(cause)));
                return;
            }
            log.debug("proxy: outbound HTTP connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    /** One request on its way: where it came from, where it goes, since when, and its route. */
    private record Exchange(ChannelHandlerContext ctx, FullHttpRequest request, String authority, long started, RouteProfiles.MatchedRoute route) {}

    private void resolve(Exchange x) {
        ChannelHandlerContext ctx = x.ctx();
        String authority = x.authority();
        Resolution resolution;
        try {
            resolution = discovery.resolve(authority);
        } catch (IllegalStateException e) {
            fail(x, ProxyError.RESOLUTION_REFUSED.because(e.getMessage()));
            return;
        }
        resolution.whenAnswered(credentials.firstInstalled(), resolveTimeout, ctx.executor(), error -> {
            if (error.isPresent()) {
                fail(x, ProxyError.RESOLVE_TIMEOUT.because("no answer from discovery or identity within " + resolveTimeout));
            } else {
                send(x, resolution.current(), 1, java.util.Set.of());
            }
        });
    }

    private void send(Exchange x, EndpointSet endpoints, int attempt, java.util.Set<java.net.InetSocketAddress> failed) {
        ChannelHandlerContext ctx = x.ctx();
        FullHttpRequest request = x.request();
        String authority = x.authority();
        Optional<Balancer.Lease> picked = balancer.pick(endpoints.endpoints().stream().filter(e -> e.identity().isPresent()).toList(), failed);
        if (picked.isEmpty()) {
            fail(x, NoUsableEndpoint.why(authority, endpoints));
            return;
        }
        Balancer.Lease lease = picked.get();
        connections.connection(lease.endpoint(), ctx.channel().eventLoop()).addListener(connected -> {
            if (!connected.isSuccess()) {
                lease.failed();
                if (attempt < 2 && retryable(x) && budget(authority).tryRetry()) {
                    send(x, endpoints, attempt + 1, java.util.Set.of(lease.endpoint().address()));
                } else {
                    fail(x, ProxyFailure.errorOf(connected.cause(), ProxyError.CONNECT_FAILED).because(connected.cause().getMessage()));
                }
                return;
            }
            Channel parent = (Channel) connected.getNow();
            CompletableFuture<FullHttpResponse> answer = new CompletableFuture<>();
            new Http2StreamChannelBootstrap(parent).handler(new ChannelInitializer<Http2StreamChannel>() {
                @Override
                protected void initChannel(Http2StreamChannel stream) {
                    stream.pipeline()
                            .addLast(new Http2StreamFrameToHttpObjectCodec(false))
                            .addLast(new HttpObjectAggregator(MAX_BODY_BYTES))
                            .addLast(new SimpleChannelInboundHandler<FullHttpResponse>(false) {
                                @Override
                                protected void channelRead0(ChannelHandlerContext streamCtx, FullHttpResponse response) {
                                    if (!answer.complete(response)) {
                                        response.release();
                                    }
                                    streamCtx.close();
                                }

                                @Override
                                public void channelInactive(ChannelHandlerContext streamCtx) {
                                    answer.completeExceptionally(new IllegalStateException("stream closed before a response"));
                                }

                                @Override
                                public void userEventTriggered(ChannelHandlerContext streamCtx, Object evt) {
                                    if (evt instanceof io.netty.handler.codec.http2.Http2GoAwayFrame goAway) {
                                        // Our stream came after the last one the draining server accepted.
                                        goAway.release();
                                        answer.completeExceptionally(new H2Connections.StreamRefusedException("stream refused by GOAWAY"));
                                        return;
                                    }
                                    streamCtx.fireUserEventTriggered(evt);
                                }

                                @Override
                                public void exceptionCaught(ChannelHandlerContext streamCtx, Throwable cause) {
                                    answer.completeExceptionally(cause);
                                    streamCtx.close();
                                }
                            });
                }
            }).open().addListener(opened -> {
                if (!opened.isSuccess()) {
                    answer.completeExceptionally(new H2Connections.StreamRefusedException("stream not opened: " + Causes.rootMessage(opened.cause())));
                    return;
                }
                Http2StreamChannel stream = (Http2StreamChannel) opened.getNow();
                FullHttpRequest copy = request.retainedDuplicate();
                copy.headers().set(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(), "http");
                copy.headers().set(MeshHeaders.TARGET_PORT, lease.endpoint().address().getPort());
                if (!copy.headers().contains(HttpHeaderNames.HOST)) {
                    copy.headers().set(HttpHeaderNames.HOST, authority);
                }
                // The request's latency, not the shared connection's set-up, is the endpoint's.
                lease.restartClock();
                stream.writeAndFlush(copy).addListener(written -> {
                    if (!written.isSuccess()) {
                        // Not sent whole (e.g. the connection went away first): the server cannot have processed it.
                        answer.completeExceptionally(new H2Connections.StreamRefusedException("request not sent: " + Causes.rootMessage(written.cause())));
                    }
                });
                ScheduledFuture<?> timeout = ctx.executor().schedule(() -> {
                    if (answer.completeExceptionally(new java.util.concurrent.TimeoutException())) {
                        stream.close();
                    }
                }, x.route().timeout().orElse(requestTimeout).toMillis(), TimeUnit.MILLISECONDS);
                answer.whenComplete((r, e) -> timeout.cancel(false));
            });
            answer.whenComplete((response, error) -> ctx.executor().execute(() -> {
                if (error != null) {
                    log.debug("proxy: {} {}{} attempt {} on {} failed: {}", request.method(), authority, request.uri(), attempt,
                            lease.endpoint().address(), error.toString());
                }
                if (error == null && isEndpointFailure(response)) {
                    // The endpoint's proxy could not reach its app: the endpoint failed, not the request.
                    lease.failed();
                    if (attempt < 2 && retryable(x) && budget(authority).tryRetry()) {
                        response.release();
                        send(x, endpoints, attempt + 1, java.util.Set.of(lease.endpoint().address()));
                        return;
                    }
                    record(x, response.status().code());
                    RequestOutcomes.of(ctx.channel()).forwarded();
                    respond(ctx, request, response, true);
                } else if (error == null) {
                    lease.succeeded();
                    for (String name : response.headers().names().stream().filter(n -> n.startsWith("x-http2-")).toList()) {
                        response.headers().remove(name);
                    }
                    record(x, response.status().code());
                    RequestOutcomes.of(ctx.channel()).forwarded();
                    respond(ctx, request, response, true);
                } else if (error instanceof java.util.concurrent.TimeoutException) {
                    lease.failed();
                    fail(x, ProxyError.REQUEST_TIMEOUT.because("no response from " + lease.endpoint().address() + " within "
                            + x.route().timeout().orElse(requestTimeout)));
                } else if (H2Connections.unprocessed(error) && attempt < MAX_ATTEMPTS_UNPROCESSED) {
                    // The endpoint is draining, not failing; the request never reached it, so any method may go again.
                    lease.succeeded();
                    send(x, endpoints, attempt + 1, java.util.Set.of(lease.endpoint().address()));
                } else {
                    lease.failed();
                    if (attempt < 2 && retryable(x) && budget(authority).tryRetry()) {
                        send(x, endpoints, attempt + 1, java.util.Set.of(lease.endpoint().address()));
                    } else {
                        fail(x, ProxyError.CONNECT_FAILED.because(lease.endpoint().address() + ": " + Causes.rootMessage(error)));
                    }
                }
            }));
        });
    }

    /** Response metrics for the authority and for the request's route. */
    private void record(Exchange x, int status) {
        Duration elapsed = Duration.ofNanos(System.nanoTime() - x.started());
        metrics.response("outbound", x.authority(), status, elapsed);
        metrics.routeResponse(x.authority(), x.route().name(), status, elapsed);
    }

    /**
     * Whether a failed request may be tried again: idempotent methods, or a route the profile
     * declares retryable, with a body of at most {@value #MAX_RETRYABLE_BODY_BYTES} bytes.
     */
    private static boolean retryable(Exchange x) {
        return (IDEMPOTENT.contains(x.request().method()) || x.route().retryable())
                && x.request().content().readableBytes() <= MAX_RETRYABLE_BODY_BYTES;
    }

    /** One budget per authority; discovery already bounds how many authorities there are. */
    private RetryBudget budget(String authority) {
        return budgets.computeIfAbsent(authority, a -> RetryBudget.defaults());
    }

    /** A 502/503 that the endpoint's own proxy made (it names the cause): the endpoint is failing. */
    private static boolean isEndpointFailure(FullHttpResponse response) {
        int status = response.status().code();
        return (status == 502 || status == 503) && response.headers().contains(MeshHeaders.PROXY_ERROR);
    }

    /** The proxy answers {@code x} itself: logged, counted, and a line in the connection log. */
    private void fail(Exchange x, ProxyFailure why) {
        log.info("proxy: {} {} {} -> {} {}: {}", x.request().method(), x.authority(), x.request().uri(), why.error().httpStatus(), why.error().label(),
                why.getMessage());
        record(x, why.error().httpStatus());
        metrics.refused("outbound", why.error());
        RequestOutcomes.of(x.ctx().channel()).refused(why.error(), x.authority(), why.getMessage());
        respond(x.ctx(), x.request(), ProxyErrors.response(why.error()), true);
    }

    /** A request refused before it had an authority: answered, logged, and the connection closed. */
    private void refuseUnrouted(ChannelHandlerContext ctx, ProxyFailure why) {
        log.info("proxy: outbound HTTP from {} refused ({}): {}", ctx.channel().remoteAddress(), why.error().label(), why.getMessage());
        metrics.refused("outbound", why.error());
        RequestOutcomes.of(ctx.channel()).refused(why.error(), null, why.getMessage());
        respond(ctx, null, ProxyErrors.response(why.error()), false);
    }

    private void respond(ChannelHandlerContext ctx, FullHttpRequest request, FullHttpResponse response, boolean keepAliveAllowed) {
        boolean keepAlive = keepAliveAllowed && !draining && request != null && HttpUtil.isKeepAlive(request);
        if (request != null) {
            ReferenceCountUtil.release(request);
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        if (!response.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
            HttpUtil.setContentLength(response, response.content().readableBytes());
        }
        var written = ctx.writeAndFlush(response);
        if (keepAlive) {
            written.addListener(f -> {
                Requests requests = ctx.pipeline().get(Requests.class);
                if (requests != null) {
                    requests.answered(ctx);
                }
            });
        } else {
            written.addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** The authority of an explicit-proxy request: its absolute target (rewritten to origin form) or its Host. */
    static Optional<String> authorityOf(FullHttpRequest request) {
        String uri = request.uri();
        if (uri.startsWith("http://")) {
            try {
                URI parsed = URI.create(uri);
                int port = parsed.getPort() == -1 ? 80 : parsed.getPort();
                String path = parsed.getRawPath() == null || parsed.getRawPath().isEmpty() ? "/" : parsed.getRawPath();
                request.setUri(parsed.getRawQuery() == null ? path : path + "?" + parsed.getRawQuery());
                request.headers().set(HttpHeaderNames.HOST, parsed.getHost() + (parsed.getPort() == -1 ? "" : ":" + parsed.getPort()));
                return Optional.of(parsed.getHost() + ":" + port);
            } catch (IllegalArgumentException e) {
                return Optional.empty();
            }
        }
        String host = request.headers().get(HttpHeaderNames.HOST);
        if (host == null || host.isBlank()) {
            return Optional.empty();
        }
        try {
            return Optional.of(host.contains(":") && !host.endsWith("]") ? HostPort.parse(host).toString() : host + ":80");
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
