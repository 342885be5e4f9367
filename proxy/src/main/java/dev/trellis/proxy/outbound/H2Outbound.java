package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.discovery.Resolution;
import dev.trellis.proxy.discovery.RouteProfiles;
import dev.trellis.proxy.routes.HeaderEdits;
import dev.trellis.proxy.routes.MatchedRoute;
import dev.trellis.proxy.routes.RouteRequest;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.h2.HeldFrames;
import dev.trellis.proxy.http.BatchedFlushes;
import dev.trellis.proxy.http.DrainHandlers;
import dev.trellis.proxy.http.H2HeaderDeadline;
import dev.trellis.proxy.http.H2ServerCodecs;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.http.Refusals;
import dev.trellis.proxy.http.RequestOutcomes;
import dev.trellis.proxy.http.ResponseStatus;
import dev.trellis.proxy.http.StreamRelay;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.Deadlines;
import dev.trellis.proxy.transport.HalfClosure;
import dev.trellis.proxy.transport.Openings;
import io.netty.channel.Channel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
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
    private final EndpointStreams endpoints;
    private final Deadlines.Source deadlines;
    private final HttpMetrics metrics;
    private final Refusals refusals;
    private final Duration headerTimeout;
    private final RouteProfiles profiles;
    private final RetryBudgets budgets;
    private final Mirrors mirrors;

    H2Outbound(Targets targets, EndpointStreams endpoints, Deadlines.Source deadlines,
               HttpMetrics metrics, Duration headerTimeout, RouteProfiles profiles, RetryBudgets budgets) {
        this.headerTimeout = requireNonNull(headerTimeout, "headerTimeout");
        this.budgets = requireNonNull(budgets, "budgets");
        this.profiles = requireNonNull(profiles, "profiles");
        this.targets = requireNonNull(targets, "targets");
        this.endpoints = requireNonNull(endpoints, "endpoints");
        this.deadlines = requireNonNull(deadlines, "deadlines");
        this.metrics = requireNonNull(metrics, "metrics");
        this.refusals = new Refusals(Direction.OUTBOUND, metrics);
        this.mirrors = new Mirrors(targets, endpoints, metrics);
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
        client.pipeline().addBefore("pending", "head-deadline", new H2HeaderDeadline(headerTimeout, deadlines, true,
                why -> refusals.refused(client, "HTTP/2 connection", authority, ProxyError.HEADER_TIMEOUT.because(why))));
        client.pipeline().addBefore("pending", "flushes", BatchedFlushes.perLoopRound());
        client.pipeline().addBefore("pending", "h2", H2ServerCodecs.server((stream, headers, endStream) ->
                accept(stream, headers, endStream, connectionTargets, authority)));
        client.pipeline().addBefore("pending", "drain", DrainHandlers.http2());
        Relay.replay(client);
        HalfClosure.notCarried(client);
        client.config().setAutoRead(true);
    }

    /** A stream's request headers: its frames are held while its target is resolved, then it goes to an endpoint. */
    private void accept(H2Stream stream, Http2Headers headers, boolean endStream, Targets.OfConnection connectionTargets, String authority) {
        log.debug("proxy: HTTP/2 {} to {}: {} {}", stream, authority, headers.method(), headers.path());
        HeldFrames held = HeldFrames.hold(stream);
        metrics.request(Direction.OUTBOUND, authority);
        budgets.of(authority).request();
        long started = System.nanoTime();
        // The authority first: its answer comes with its route profile, so the route is decided on what the profile says.
        connectionTargets.resolve(authority, stream.eventLoop(), target -> {
            if (target instanceof Target.Unresolved unresolved) {
                answer(stream, held, headers, authority, unresolved.why(), started);
                return;
            }
            routed(stream, held, headers, endStream, authority, (Target.Resolved) target, started);
        });
    }

    /** The stream's route decides once: its filters, and which backend (by weight) the stream goes to. */
    private void routed(H2Stream stream, HeldFrames held, Http2Headers headers, boolean endStream, String authority, Target.Resolved target,
                        long started) {
        MatchedRoute route = profiles.match(authority, RouteRequest.of(headers));
        if (route.filters().redirect().isPresent()) {
            redirect(stream, held, headers, authority, route, started);
            return;
        }
        HeaderEdits.apply(route.filters().requestHeaders(), headers);
        route.filters().rewrite().ifPresent(rewrite -> {
            if (!rewrite.hostname().isEmpty()) {
                headers.authority(rewrite.hostname());
            }
            headers.path(MatchedRoute.rewritePath(String.valueOf(headers.path()), rewrite.hasPath(), rewrite.path(), rewrite.prefixMatch(),
                    route.matchedPrefix()));
        });
        String backend = route.backend(authority);
        if (backend.isEmpty()) {
            answer(stream, held, headers, authority, ProxyError.BACKEND_NOT_RESOLVED.because("route " + route.name() + " of " + authority
                    + ": the backend chosen for this stream does not exist or cannot be referred to (see the route's status)"), started);
            return;
        }
        if (backend.equals(authority)) {
            start(stream, held, headers, endStream, authority, target.resolution(), route, started);
            return;
        }
        targets.resolve(backend, stream.eventLoop(), chosen -> {
            if (!(chosen instanceof Target.Resolved resolved)) {
                answer(stream, held, headers, authority, ((Target.Unresolved) chosen).why(), started);
                return;
            }
            start(stream, held, headers, endStream, authority, resolved.resolution(), route, started);
        });
    }

    private void start(H2Stream stream, HeldFrames held, Http2Headers headers, boolean endStream, String authority, Resolution resolution,
                       MatchedRoute route, long started) {
        // Opened once the current read is processed, so that a stream reset in the same read never goes upstream.
        // Only a route's retry policy makes a stream that reached an app go again; any stream may go elsewhere unprocessed.
        Attempts attempts = new Attempts(route.retry().isPresent(), route.retry().map(r -> r.attempts()).orElse(0), budgets.of(authority));
        stream.eventLoop().execute(() -> new Exchange(stream, held, headers, endStream, authority, resolution, started, route, attempts).attempt());
    }

    /** One stream's way to an endpoint: its attempts, then the relay. */
    private final class Exchange implements EndpointStreams.Opening, ReplayingRelay.Exchange {
        private final H2Stream stream;
        private final HeldFrames held;
        private final Http2Headers request;
        private final boolean endStream;
        private final String authority;
        private final Resolution resolution;
        private final long started;
        private final MatchedRoute route;
        private final Attempts attempts;
        private final ResponseStatus seen = new ResponseStatus();
        private Balancer.Lease lease;
        private H2Stream upstream;
        private ScheduledFuture<?> timeout;
        private boolean answered;
        private boolean settled;
        /** Set when the route has a retry policy: the relay that keeps the request's copy for the next attempt. */
        private ReplayingRelay relay;

        Exchange(H2Stream stream, HeldFrames held, Http2Headers request, boolean endStream, String authority, Resolution resolution, long started,
                 MatchedRoute route, Attempts attempts) {
            this.stream = stream;
            this.held = held;
            this.request = request;
            this.endStream = endStream;
            this.authority = authority;
            this.resolution = resolution;
            this.started = started;
            this.route = route;
            this.attempts = attempts;
        }

        /**
         * Opens the stream on an endpoint not tried before. Nothing of the request has left while
         * the connection or the stream cannot be made, so any call may go to another endpoint
         * then, as far as {@link Attempts} allows a request no endpoint processed; an endpoint
         * that presents the wrong identity is not tried again elsewhere (that is no outage).
         */
        void attempt() {
            if (held.isClosed()) {
                held.discard();
                metrics.response(Direction.OUTBOUND, authority, 499, Duration.ofNanos(System.nanoTime() - started));
                return;
            }
            attempts.begin();
            Set<InetSocketAddress> failed = attempts.avoid();
            Optional<Balancer.Lease> picked = endpoints.pick(resolution.current(), failed);
            if (picked.isEmpty()) {
                answer(stream, held, request, authority, failed.isEmpty() ? NoUsableEndpoint.why(authority, resolution.current())
                        : ProxyError.CONNECT_FAILED.because(authority + ": every endpoint failed (" + failed.size() + " tried)"), started);
                return;
            }
            lease = picked.get();
            settled = false;
            // A retry's head ends the stream when the request had no body; otherwise the relay sends the copy of it.
            boolean headEnds = relay == null ? endStream : relay.bodyless();
            endpoints.open(lease, stream.eventLoop(), H2Stream.discarding(), this::forwarded, headEnds, this);
        }

        private Http2Headers forwarded(Balancer.Lease chosen) {
            Http2Headers forwarded = new DefaultHttp2Headers().add(request);
            MeshHeaders.strip(forwarded);
            forwarded.set(MeshHeaders.TARGET_PORT, Integer.toString(chosen.endpoint().address().getPort()));
            forwarded.set(MeshHeaders.APP_PROTOCOL, "h2");
            return forwarded;
        }

        @Override
        public void failed(EndpointStreams.CannotOpen cannot, Balancer.Lease chosen) {
            ProxyFailure why = cannot.why();
            boolean again = why.error() == ProxyError.CONNECT_FAILED && !held.isClosed() && attempts.mayResendUnprocessed(relay == null || relay.replayable());
            if (!again) {
                answer(stream, held, request, authority, why, started);
                return;
            }
            log.info("proxy: HTTP/2 stream to {}: {}; trying another endpoint", authority, why.getMessage());
            attempts.failedOn(chosen.endpoint().address());
            attempt();
        }

        @Override
        public void opened(H2Stream opened, Balancer.Lease chosen) {
            if (relay != null) {
                // A retry: the caller's frames already go through the relay.
                if (!stream.isOpen()) {
                    chosen.succeeded();
                    opened.close();
                    return;
                }
                upstream = opened;
                relay.attach(opened);
                armTimeout();
                return;
            }
            if (held.isClosed()) {
                // The caller left while the stream was opened.
                chosen.succeeded();
                opened.close();
                held.discard();
                metrics.response(Direction.OUTBOUND, authority, 499, Duration.ofNanos(System.nanoTime() - started));
                return;
            }
            upstream = opened;
            RequestOutcomes.of(stream.connection()).forwarded();
            log.debug("proxy: HTTP/2 {} joined to {} on {}", stream, opened, chosen.endpoint().address());
            if (route.retry().isPresent() || route.filters().mirror().isPresent()) {
                // The request's body is copied (64 KiB at most): for the next try, or for the mirror.
                relay = ReplayingRelay.join(stream, held, endStream, opened, this);
            } else {
                StreamRelay.join(stream, held, endStream, opened, this);
            }
            armTimeout();
        }

        /**
         * Each try within the route's backend timeout, all of them within its request timeout:
         * before a response began the caller gets 504 (DEADLINE_EXCEEDED for gRPC); after, the stream is reset.
         */
        private void armTimeout() {
            if (timeout != null) {
                timeout.cancel(false);
                timeout = null;
            }
            if (route.timeout().isEmpty() && route.backendTimeout().isEmpty()) {
                return;
            }
            Duration limit = route.tryTimeout(route.timeout().or(route::backendTimeout).orElseThrow());
            if (route.timeout().isPresent()) {
                Duration left = route.timeout().get().minusNanos(System.nanoTime() - started);
                limit = left.compareTo(limit) < 0 ? (left.isNegative() ? Duration.ZERO : left) : limit;
            }
            Duration after = limit;
            timeout = stream.eventLoop().schedule(() -> timedOut(after), after.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public boolean retriesOn(int status, Optional<Integer> grpcStatus) {
            return route.retry().map(policy -> policy.httpStatuses().contains(status) || grpcStatus.map(policy.grpcCodes()::contains).orElse(false))
                    .orElse(false);
        }

        @Override
        public boolean retriesOnGrpcCodes() {
            return route.retry().map(policy -> !policy.grpcCodes().isEmpty()).orElse(false);
        }

        @Override
        public void requestEnded(java.util.List<io.netty.buffer.ByteBuf> body) {
            var mirror = route.filters().mirror().filter(m -> Mirrors.chosen(m.percent()));
            if (mirror.isEmpty()) {
                body.forEach(io.netty.buffer.ByteBuf::release);
                return;
            }
            mirrors.send(mirror.get().authority(), this::forwarded, body, stream.eventLoop());
        }

        @Override
        public boolean retry() {
            if (route.retry().isEmpty() || !relay.replayable() || !attempts.mayRetry(true)) {
                return false;
            }
            log.debug("proxy: HTTP/2 {} to {}: the answer from {} is one route {} retries", stream, authority, lease.endpoint().address(), route.name());
            // The endpoint answered: it is not failing, the request is.
            settled = true;
            lease.succeeded();
            relay.abandon();
            attempt();
            return true;
        }

        private void timedOut(Duration after) {
            if (!upstream.isOpen()) {
                return;
            }
            if (relay != null && !relay.answered() && route.backendTimeout().isPresent() && relay.replayable() && attempts.mayRetry(true)) {
                // A try that timed out goes again, within the request's timeout.
                log.debug("proxy: HTTP/2 {} to {}: no answer from {} within {}; trying again", stream, authority, lease.endpoint().address(), after);
                settled = true;
                lease.failed();
                relay.abandon();
                attempt();
                return;
            }
            answered = true;
            if (!seen.headersSeen()) {
                answer(stream, null, request, authority, ProxyError.REQUEST_TIMEOUT.because("no response from " + lease.endpoint().address() + " within " + after),
                        started);
            } else {
                stream.close();
            }
            upstream.close();
        }

        @Override
        public void headers(Http2Headers headers) {
            if (headers.status() != null) {
                HeaderEdits.apply(route.filters().responseHeaders(), headers);
            }
            boolean first = !seen.headersSeen();
            seen.headers(headers);
            if (first && seen.headersSeen()) {
                // The response's first headers settle the lease.
                settled = true;
                int status = seen.status();
                if ((status == 502 || status == 503) && headers.contains(MeshHeaders.PROXY_ERROR)) {
                    lease.failed();
                } else {
                    lease.succeeded();
                }
            }
        }

        @Override
        public void closed() {
            if (timeout != null) {
                timeout.cancel(false);
            }
            if (!settled) {
                lease.failed();
            }
            if (!answered) {
                Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
                metrics.response(Direction.OUTBOUND, authority, seen.status(), seen.grpcStatus(), elapsed);
                metrics.routeResponse(authority, HttpMetrics.Destination.of(lease.endpoint().labels()), route.name(), route.kind(), seen.status(),
                        seen.grpcStatus(), elapsed);
            }
        }
    }

    /** The route redirects: the proxy answers the stream with where to go instead; what the client sent is dropped. */
    private void redirect(H2Stream stream, HeldFrames held, Http2Headers request, String authority, MatchedRoute route, long started) {
        var redirect = route.filters().redirect().orElseThrow();
        dev.trellis.core.net.HostPort requested = dev.trellis.core.net.HostPort.parse(authority);
        String location = route.redirectLocation(requested, String.valueOf(request.scheme() == null ? "http" : request.scheme()),
                String.valueOf(request.path()));
        Http2Headers answer = new DefaultHttp2Headers().status(Integer.toString(redirect.status())).set("location", location);
        HeaderEdits.apply(route.filters().responseHeaders(), answer);
        held.discard();
        stream.writeHeaders(answer, true);
        stream.flush();
        if (stream.isOpen()) {
            // A request body still coming is cut off, as for any answer of the proxy's own.
            stream.close();
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
        metrics.response(Direction.OUTBOUND, authority, redirect.status(), Optional.empty(), elapsed);
        metrics.routeResponse(authority, HttpMetrics.Destination.UNKNOWN, route.name(), route.kind(), redirect.status(), Optional.empty(), elapsed);
    }

    /** The proxy answers a stream itself: logged, counted, a line in the connection log; what it held is dropped. */
    private void answer(H2Stream stream, HeldFrames held, Http2Headers request, String authority, ProxyFailure why, long started) {
        refusals.refused(stream.connection(), request.method() + " " + request.path(), authority, why);
        refusals.answer(stream, held, request, authority, why, started);
    }
}
