package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.metrics.Direction;
import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.discovery.RouteProfiles;
import dev.trellis.proxy.routes.MatchedRoute;
import dev.trellis.proxy.routes.RouteRequest;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.http.DrainHandlers;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.http.ProxyErrors;
import dev.trellis.proxy.http.Refusals;
import dev.trellis.proxy.http.RequestOutcomes;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.Deadlines;
import dev.trellis.proxy.transport.Openings;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound HTTP/1.1 path. On a client connection: parse requests (limits below), find
 * each request's authority (the connection's original destination in transparent mode; the
 * absolute request target or {@code Host} when the app uses the proxy as its HTTP proxy),
 * resolve it, and hand the request to an {@link OutboundExchange}, which picks an endpoint
 * and streams the request as an HTTP/2 stream over the endpoint's mTLS connection, with
 * {@value MeshHeaders#TARGET_PORT} naming the app port, and the response back as HTTP/1.1.
 *
 * <p>The proxy answers itself, with a {@code trellis-proxy-error} header, when there are no
 * endpoints (503), the endpoint cannot be reached or is not who discovery said (502), or the
 * request times out (504). Requests on one connection are handled one at a time, in order;
 * requests a client pipelines wait (at most {@value #MAX_PIPELINED}).
 *
 * <p>Limits: request line 8 KiB, headers 16 KiB, the head within the header timeout (never
 * extended by trickling bytes), the body streamed with no size limit but an idle limit of
 * the header timeout between its pieces. One instance serves every connection; thread-safe.
 */
final class HttpOutbound implements OutboundExchange.Path {

    private static final Logger log = LoggerFactory.getLogger(HttpOutbound.class);

    static final int MAX_PIPELINED = 64;

    private final EndpointStreams endpoints;
    private final Deadlines.Source deadlines;
    private final HttpMetrics metrics;
    private final Refusals refusals;
    private final Duration requestTimeout;
    private final Targets targets;
    private final RouteProfiles profiles;
    private final Mirrors mirrors;
    private final RetryBudgets budgets;
    private final Duration headerTimeout;
    private final Upgrades upgrades;
    private volatile boolean draining;

    /**
     * Where a connection goes whose request asks for another protocol ({@code Upgrade}, a
     * WebSocket say): HTTP/2 between proxies cannot carry it, so the connection leaves this
     * path and is carried opaque to the authority — its request, re-encoded, first.
     */
    public interface Upgrades {
        /** Carries {@code client} (auto-read off, the request's bytes held by a pending handler last) to {@code target}. */
        void carry(Channel client, Target target, Optional<String> host);
    }

    HttpOutbound(Targets targets, EndpointStreams endpoints, Deadlines.Source deadlines,
                 HttpMetrics metrics, Duration requestTimeout, Duration headerTimeout, RouteProfiles profiles,
                 Upgrades upgrades, RetryBudgets budgets) {
        this.budgets = requireNonNull(budgets, "budgets");
        this.upgrades = requireNonNull(upgrades, "upgrades");
        this.headerTimeout = requireNonNull(headerTimeout, "headerTimeout");
        this.profiles = requireNonNull(profiles, "profiles");
        this.targets = requireNonNull(targets, "targets");
        this.endpoints = requireNonNull(endpoints, "endpoints");
        this.deadlines = requireNonNull(deadlines, "deadlines");
        this.metrics = requireNonNull(metrics, "metrics");
        this.refusals = new Refusals(Direction.OUTBOUND, metrics);
        this.requestTimeout = requireNonNull(requestTimeout, "requestTimeout");
        this.mirrors = new Mirrors(targets, endpoints, metrics);
    }

    @Override
    public Mirrors mirrors() {
        return mirrors;
    }

    /**
     * From now on every response closes its connection ({@code Connection: close}), so that
     * clients take their next requests elsewhere while the proxy drains; requests already
     * sent are answered.
     */
    public void drain() {
        draining = true;
    }

    @Override
    public boolean draining() {
        return draining;
    }

    @Override
    public EndpointStreams endpoints() {
        return endpoints;
    }

    @Override
    public Deadlines.Source deadlines() {
        return deadlines;
    }

    @Override
    public HttpMetrics metrics() {
        return metrics;
    }

    @Override
    public Refusals refusals() {
        return refusals;
    }

    @Override
    public Duration requestTimeout() {
        return requestTimeout;
    }

    /** One budget per authority; discovery already bounds how many authorities there are. */
    @Override
    public RetryBudget budget(String authority) {
        return budgets.of(authority);
    }

    /**
     * Makes {@code client} (auto-read off, its first bytes held by a pending handler) an
     * HTTP/1.1 connection served by this path; {@code target} is the one its listener resolved
     * for transparent connections and forwards (every request goes there), and empty for the
     * explicit HTTP proxy (each request names its authority).
     */
    void install(Channel client, Optional<Target> target) {
        client.pipeline()
                .addLast("request-deadline", new Http1RequestDeadline(headerTimeout, deadlines, why -> refusals.refused(client, "HTTP/1 request", null, why)))
                .addLast("http1", new HttpServerCodec(8192, 16384, 16384))
                .addLast("drain", DrainHandlers.http1())
                .addLast("requests", new Requests(target));
        // Half-closure is allowed since the accept: a client may send its request and end its side; see Requests.
        Relay.replay(client);
        client.config().setAutoRead(true);
    }

    /**
     * A connection's requests, one at a time in arrival order: what a client pipelines (sends
     * before the answer to its previous request) waits until that answer is out, as HTTP/1.1
     * requires.
     */
    private final class Requests extends ChannelInboundHandlerAdapter implements OutboundExchange.Client {
        private final Optional<String> fixedAuthority;
        private final Targets.OfConnection connectionTargets;
        private final ArrayDeque<HttpObject> waiting = new ArrayDeque<>();
        private ChannelHandlerContext ctx;
        private OutboundExchange current;
        /** The current request was refused before it was read whole: what follows is its body, to drop. */
        private boolean closing;
        /** The connection is leaving this path for another protocol: what the codec still brings is dropped. */
        private boolean upgrading;
        /** The client shut its side down: what it sent whole is answered, then the connection closes. */
        private boolean inputShut;

        Requests(Optional<Target> target) {
            this.fixedAuthority = target.map(Target::authority);
            this.connectionTargets = targets.ofConnection(target);
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HttpObject object) || closing || upgrading) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (current != null && !current.requestComplete() && object instanceof HttpContent content) {
                body(content);
                return;
            }
            if (current != null) {
                if (waiting.size() >= MAX_PIPELINED) {
                    ReferenceCountUtil.release(msg);
                    log.info("proxy: outbound HTTP from {} pipelined more than {} messages; closing", ctx.channel().remoteAddress(), MAX_PIPELINED);
                    ctx.close();
                    return;
                }
                // The client pipelines: it waits here, and reading stops until the answer is out.
                waiting.add(object);
                if (object instanceof HttpRequest) {
                    Http1RequestDeadline.headComplete(ctx);
                }
                ctx.channel().config().setAutoRead(false);
                return;
            }
            next(object);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (current != null) {
                current.flushUpstream();
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (current != null) {
                current.clientWritable();
            }
            ctx.fireChannelWritabilityChanged();
        }

        /**
         * The client shut down its sending side. A request it sent whole is still answered (as a
         * client that half-closes expects), and the connection closes after that answer; with
         * nothing whole in flight it closes now, as before half-closure was allowed.
         */
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof ChannelInputShutdownEvent) {
                inputShut = true;
                if (current == null || !current.requestComplete()) {
                    ctx.close();
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        /** A piece of the current request's body; once it is whole, what comes next is the next request's. */
        private void body(HttpContent content) {
            current.body(content);
            if (current != null && current.requestComplete()) {
                Http1RequestDeadline.requestRead(ctx);
            }
        }

        /** {@code object} starts the next request; anything else here is the rest of one already answered. */
        private void next(HttpObject object) {
            if (object instanceof HttpRequest head) {
                start(head);
            } else {
                ReferenceCountUtil.release(object);
            }
        }

        @Override
        public void answered(boolean reusable) {
            current = null;
            Http1RequestDeadline.answered(ctx);
            if (!reusable || inputShut && waiting.isEmpty()) {
                closing = true;
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            HttpObject object;
            while (current == null && (object = waiting.poll()) != null) {
                if (object instanceof HttpRequest) {
                    next(object);
                } else {
                    ReferenceCountUtil.release(object);
                }
            }
            while (current != null && !current.requestComplete() && waiting.peek() instanceof HttpContent content) {
                waiting.poll();
                body(content);
            }
            // Reading stopped only if the client pipelined (or a body waited for its stream).
            if (waiting.isEmpty() && !ctx.channel().config().isAutoRead()) {
                ctx.channel().config().setAutoRead(true);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            waiting.forEach(ReferenceCountUtil::release);
            waiting.clear();
            if (current != null) {
                current.clientGone();
                current = null;
            }
            super.channelInactive(ctx);
        }

        /**
         * The app's connection failed (most often: it reset the connection, as load tools do when
         * they stop): closing it ends the exchange in flight through {@link #channelInactive}.
         * Not a warning: an app may close its connections however it likes.
         */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("proxy: outbound HTTP connection from {} failed: {}", ctx.channel().remoteAddress(), Causes.rootMessage(cause));
            ctx.close();
        }

        private void start(HttpRequest head) {
            Http1RequestDeadline.headComplete(ctx);
            // A whole head arrived: the connection is open for business, whatever its source's other connections do.
            Openings.settle(ctx.channel());
            if (!head.decoderResult().isSuccess()) {
                Throwable cause = head.decoderResult().cause();
                ProxyError error = cause instanceof TooLongFrameException ? ProxyError.REQUEST_TOO_LARGE : ProxyError.BAD_REQUEST;
                refuseUnrouted(error.because("malformed request: " + Causes.rootMessage(cause)));
                return;
            }
            Optional<String> authority = fixedAuthority.isPresent() ? fixedAuthority : authorityOf(head);
            if (authority.isEmpty()) {
                refuseUnrouted(ProxyError.NO_AUTHORITY.because("the request names no authority (absolute request target or Host)"));
                return;
            }
            MeshHeaders.strip(head.headers());
            if (asksForUpgrade(head)) {
                upgrade(head, authority.get());
                return;
            }
            metrics.request(Direction.OUTBOUND, authority.get());
            budget(authority.get()).request();
            OutboundExchange exchange = new OutboundExchange(HttpOutbound.this, ctx.channel(), this, head, authority.get(), headerTimeout);
            current = exchange;
            String requested = authority.get();
            // The authority first: its answer comes with its route profile, so the route below is decided on what the profile says.
            connectionTargets.resolve(requested, exchange.loop(), target -> {
                if (target instanceof Target.Unresolved unresolved) {
                    exchange.fail(unresolved.why());
                    return;
                }
                // The route decides once: its filters, and which backend (by weight) this request goes to.
                MatchedRoute route = profiles.match(requested, RouteRequest.of(head));
                exchange.routed(route);
                if (route.filters().redirect().isPresent()) {
                    exchange.redirect(route.filters().redirect().get());
                    return;
                }
                String backend = route.backend(requested);
                if (backend.isEmpty()) {
                    exchange.fail(ProxyError.BACKEND_NOT_RESOLVED.because("route " + route.name() + " of " + requested
                            + ": the backend chosen for this request does not exist or cannot be referred to (see the route's status)"));
                } else if (backend.equals(requested)) {
                    exchange.resolved(((Target.Resolved) target).endpoints());
                } else {
                    targets.resolve(backend, exchange.loop(), chosen -> {
                        switch (chosen) {
                            case Target.Resolved resolved -> exchange.resolved(resolved.endpoints());
                            case Target.Unresolved unresolved -> exchange.fail(unresolved.why());
                        }
                    });
                }
            });
        }

        /**
         * Hands the connection to {@link Upgrades}, once the codec's current read is done: its
         * handlers leave, and the request's head, encoded again, goes first to the far side.
         */
        private void upgrade(HttpRequest head, String authority) {
            upgrading = true;
            Channel client = ctx.channel();
            client.config().setAutoRead(false);
            log.debug("proxy: {} {} asks for {}: carried opaque to {}", head.method(), head.uri(), head.headers().get(HttpHeaderNames.UPGRADE),
                    authority);
            RequestOutcomes.of(client).forwarded();
            Optional<String> host = Optional.ofNullable(head.headers().get(HttpHeaderNames.HOST));
            ByteBuf bytes = encodedHead(head, client);
            ctx.executor().execute(() -> {
                ChannelPipeline pipeline = client.pipeline();
                pipeline.remove(this);
                pipeline.remove("drain");
                pipeline.addLast("pending", Relay.pending());
                // Bytes after the head that the codec holds follow it: fired past the codec, then the codec leaves.
                pipeline.context("http1").fireChannelRead(bytes);
                pipeline.remove("http1");
                pipeline.remove("request-deadline");
                connectionTargets.resolve(authority, client.eventLoop(), target -> upgrades.carry(client, target, host));
            });
        }

        /** A request refused before it had an authority: answered, logged, and the connection closed. */
        private void refuseUnrouted(ProxyFailure why) {
            refusals.refused(ctx.channel(), "HTTP/1 request", null, why);
            closing = true;
            FullHttpResponse response = ProxyErrors.response(why.error());
            HttpUtil.setKeepAlive(response, false);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /**
     * {@code Connection: upgrade} with an {@code Upgrade} header (RFC 9110 7.8) to something
     * other than {@code h2c}: an offer of cleartext HTTP/2 (the JDK's client makes one on every
     * first request) is declined, as a server may, by removing it.
     */
    static boolean asksForUpgrade(HttpRequest head) {
        String upgrade = head.headers().get(HttpHeaderNames.UPGRADE);
        if (upgrade == null || !head.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)) {
            return false;
        }
        if (upgrade.strip().equalsIgnoreCase("h2c")) {
            head.headers().remove(HttpHeaderNames.UPGRADE).remove("http2-settings");
            return false;
        }
        return true;
    }

    /** The head as it goes on the wire; the codec validated its names and values. */
    private static ByteBuf encodedHead(HttpRequest head, Channel channel) {
        StringBuilder text = new StringBuilder(256).append(head.method().name()).append(' ').append(head.uri()).append(' ')
                .append(head.protocolVersion().text()).append("\r\n");
        head.headers().forEach(header -> text.append(header.getKey()).append(": ").append(header.getValue()).append("\r\n"));
        text.append("\r\n");
        return ByteBufUtil.encodeString(channel.alloc(), java.nio.CharBuffer.wrap(text), StandardCharsets.ISO_8859_1);
    }

    /** The authority of an explicit-proxy request: its absolute target (rewritten to origin form) or its Host. */
    static Optional<String> authorityOf(HttpRequest request) {
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
