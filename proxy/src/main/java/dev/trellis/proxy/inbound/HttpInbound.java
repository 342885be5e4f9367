package dev.trellis.proxy.inbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.connlog.ConnectionLog;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.h2.H2Connection;
import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.h2.HeldFrames;
import dev.trellis.proxy.http.BatchedFlushes;
import dev.trellis.proxy.http.DrainHandlers;
import dev.trellis.proxy.http.H2HeaderDeadline;
import dev.trellis.proxy.http.H2ServerCodecs;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.http.Refusals;
import dev.trellis.proxy.http.ResponseStatus;
import dev.trellis.proxy.http.StreamRelay;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.policy.InboundAuthorizer;
import dev.trellis.proxy.policy.InboundPolicy;
import dev.trellis.proxy.policy.InboundTargets;
import dev.trellis.proxy.tap.TapHub;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.Deadlines;
import dev.trellis.proxy.transport.HalfClosure;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.wire.tap.TapEvent.Peer;
import dev.trellis.wire.tap.TapEvent.RequestInit;
import dev.trellis.wire.tap.TapEvent;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound HTTP path: an mTLS connection that negotiated {@code h2} carries requests as
 * HTTP/2 streams. Each stream, on its first headers and before any of its body is read:
 * <ol>
 *   <li>names its target port ({@value MeshHeaders#TARGET_PORT}, else the connection's
 *       original destination) — {@value MeshHeaders#TARGET_PROXY} addresses the proxy's own
 *       metrics, for the viz identity only;</li>
 *   <li>the {@link InboundTargets} check: a port the workload declares, never one of the
 *       proxy's own, at the address the connection arrived on;</li>
 *   <li>the {@link InboundPolicy}: authorization and rate limit for the caller's identity;</li>
 *   <li>then to the app: relayed frame by frame when the client proxy says the app speaks
 *       HTTP/2, else as an HTTP/1.1 request on a pooled keep-alive connection, with
 *       {@value MeshHeaders#CLIENT_ID} set to the caller's identity and every other
 *       mesh-internal header removed.</li>
 * </ol>
 * Every answer the proxy gives itself is a {@link ProxyError}; refusals also get a line in
 * the connection log.
 */
final class HttpInbound {

    private static final Logger log = LoggerFactory.getLogger(HttpInbound.class);

    private final HttpMetrics metrics;
    private final Refusals refusals;
    private final H2cAppConnections appConnections;
    private final AppHttp1Pool appPool;
    private final InboundTargets targets;
    private final InboundPolicy policy;
    private final InboundServer.ScrapeEndpoint scrape;
    private final TapHub tap;
    private final WorkloadIdentity self;
    private final ConnectionLog connectionLog;
    private final Deadlines.Source deadlines;

    /**
     * The proxy's own metrics over the inbound mTLS listener (threat-model findings 7 and 9):
     * a request with {@value MeshHeaders#TARGET_PORT} {@code proxy} and path {@code /metrics}
     * from the {@code scraper} identity gets them; anyone else gets 403.
     */

    HttpInbound(IoRuntime io, InboundTargets targets, Duration connectTimeout, HttpMetrics metrics, InboundPolicy policy, InboundServer.ScrapeEndpoint scrape,
                       TapHub tap, WorkloadIdentity self, ConnectionLog connectionLog) {
        this.targets = requireNonNull(targets, "targets");
        this.tap = requireNonNull(tap, "tap");
        this.self = requireNonNull(self, "self");
        this.policy = requireNonNull(policy, "policy");
        this.scrape = requireNonNull(scrape, "scrape");
        this.metrics = requireNonNull(metrics, "metrics");
        this.refusals = new Refusals(Direction.INBOUND, metrics);
        this.connectionLog = requireNonNull(connectionLog, "connectionLog");
        this.appConnections = new H2cAppConnections(io, connectTimeout);
        this.appPool = new AppHttp1Pool(io, connectTimeout);
        this.deadlines = io;
    }

    /**
     * Serves HTTP/2 on {@code connection} (accepted at {@code start}), whose client is
     * {@code client}: the codec's bounds, and its SETTINGS and every header block whole within
     * {@code headerTimeout} ({@link H2HeaderDeadline}) — a mesh peer is authenticated, not trusted.
     */
    public void install(Channel connection, WorkloadIdentity client, Optional<Integer> originalPort, java.time.Duration headerTimeout,
                        java.time.Instant start) {
        connection.pipeline()
                .addLast("head-deadline", new H2HeaderDeadline(headerTimeout, deadlines, true, why -> {
                    refusals.refused(connection, "HTTP/2 connection of " + client, null, ProxyError.HEADER_TIMEOUT.because(why));
                    // Inbound, each refusal is a line of its own (the outbound side tells its connection's line instead).
                    connectionLog.inboundRefusal(start, client.spiffeId(), ConnectionLog.addressOf(connection), "inbound port", "http2", true,
                            ProxyError.HEADER_TIMEOUT, why);
                }))
                .addLast("flushes", BatchedFlushes.perLoopRound())
                .addLast("h2", H2ServerCodecs.server(new Dispatch(client, originalPort)))
                .addLast("drain", DrainHandlers.http2());
        HalfClosure.notCarried(connection);
    }

    /** Decides each stream of one connection on its first headers, then joins it to the app. */
    private final class Dispatch implements H2Connection.Acceptor {
        private final WorkloadIdentity client;
        private final Optional<Integer> originalPort;

        Dispatch(WorkloadIdentity client, Optional<Integer> originalPort) {
            this.client = client;
            this.originalPort = originalPort;
        }

        @Override
        public void accept(H2Stream stream, Http2Headers request, boolean endStream) {
            CharSequence target = request.get(MeshHeaders.TARGET_PORT);
            if (target != null && MeshHeaders.TARGET_PROXY.contentEquals(target)) {
                serveSelf(stream, request);
                return;
            }
            long started = System.nanoTime();
            Instant start = Instant.now();
            String authority = request.authority() == null ? "" : request.authority().toString();
            boolean h2App = request.contains(MeshHeaders.APP_PROTOCOL, "h2");
            log.debug("proxy: inbound {} from {}: {} {} (app protocol {})", stream, client, request.method(), request.path(),
                    h2App ? "h2" : "http/1.1");
            metrics.request(Direction.INBOUND, authority);
            metrics.inboundFrom(client.spiffeId());
            Optional<Integer> port = target == null ? originalPort : parsePort(target.toString());
            if (port.isEmpty()) {
                refuse(stream, null, request, ProxyError.NO_TARGET_PORT.because("no valid " + MeshHeaders.TARGET_PORT + " and no original destination"),
                        authority, started, start, "?");
                return;
            }
            // Hold the rest of the stream (its body) until it is decided.
            HeldFrames held = HeldFrames.hold(stream);
            targets.resolve(port.get(), arrivedOn(stream.connection()), stream.eventLoop(), decided -> {
                switch (decided) {
                    case InboundTargets.Target.Refused refused -> refuse(stream, held, request, refused.why(), authority, started, start, port.get().toString());
                    case InboundTargets.Target.App app -> authorize(stream, held, request, endStream, app.address(), h2App, authority, started, start);
                }
            });
        }

        private void authorize(H2Stream stream, HeldFrames held, Http2Headers request, boolean endStream, InetSocketAddress app, boolean h2App,
                               String authority, long started, Instant start) {
            InboundAuthorizer.Request asked = new InboundAuthorizer.Request(String.valueOf(request.method()), String.valueOf(request.path()));
            policy.request(app.getPort(), Optional.of(client), sourceOf(stream.connection()), asked, stream.eventLoop(), verdict -> {
                switch (verdict) {
                    case DENY -> refuse(stream, held, request, ProxyError.POLICY_DENIED.because(client + " may not " + asked.method() + " "
                            + InboundAuthorizer.pathOnly(asked.path()) + " on port " + app.getPort()), authority, started, start, app.toString());
                    case RATE_LIMITED -> refuse(stream, held, request, ProxyError.RATE_LIMITED.because(client + " is over the rate limit of port "
                            + app.getPort()), authority, started, start, app.toString());
                    // Forwarded once the current read is processed: a RST_STREAM read with its HEADERS cancels the
                    // stream before anything reaches the app (rapid reset sends both together).
                    case ALLOW -> stream.eventLoop().execute(() -> {
                        if (held.isClosed()) {
                            held.discard();
                            metrics.response(Direction.INBOUND, authority, 499, Duration.ofNanos(System.nanoTime() - started));
                            return;
                        }
                        TapHub.Tap tapped = tapStart(stream, asked.method(), authority, asked.path(), app);
                        if (h2App) {
                            toH2App(stream, held, request, endStream, app, authority, started, start, tapped);
                        } else {
                            toHttp1App(stream, held, request, endStream, app, authority, started, tapped);
                        }
                    });
                }
            });
        }

        /**
         * Relays the stream to the app's HTTP/2 connection, frame by frame. An app stream that
         * ends before it answers — the app does not speak HTTP/2 on that port, or dropped the
         * connection — gets the caller a 502 with the reason, as an HTTP/1 app's would, not a
         * bare reset.
         */
        private void toH2App(H2Stream stream, HeldFrames held, Http2Headers request, boolean endStream, InetSocketAddress app, String authority,
                             long started, Instant start, TapHub.Tap tapped) {
            Http2Headers forwarded = new DefaultHttp2Headers().add(request);
            MeshHeaders.strip(forwarded);
            forwarded.set(MeshHeaders.CLIENT_ID, client.spiffeId());
            openAppStream(app, stream, forwarded, endStream, true, (appStream, why) -> {
                if (appStream == null || held.isClosed()) {
                    if (appStream != null) {
                        appStream.close();
                    }
                    answer(stream, held, request, ProxyError.APP_CONNECT_FAILED.because(appStream == null ? why : "the caller left"), authority, started);
                    tapped.end(502, Optional.empty(), Optional.of(ProxyError.APP_CONNECT_FAILED.text()));
                    return;
                }
                log.debug("proxy: inbound {} joined to app {}", stream, appStream);
                ResponseStatus seen = new ResponseStatus();
                StreamRelay.join(stream, held, endStream, appStream, new StreamRelay.Answers() {
                    private boolean answeredHere;

                    @Override
                    public void headers(Http2Headers headers) {
                        seen.headers(headers);
                    }

                    @Override
                    public boolean unanswered() {
                        answeredHere = true;
                        refuse(stream, null, request, ProxyError.APP_BAD_RESPONSE.because("the app at " + app + " ended the HTTP/2 stream without "
                                + "answering (does it speak HTTP/2 without TLS on port " + app.getPort() + "?)"), authority, started, start, app.toString());
                        tapped.end(ProxyError.APP_BAD_RESPONSE.httpStatus(), Optional.empty(), Optional.of(ProxyError.APP_BAD_RESPONSE.text()));
                        return true;
                    }

                    @Override
                    public void closed() {
                        if (answeredHere) {
                            return;
                        }
                        // Reset by the app before it answered: the caller got the reset, which counts as a failure.
                        int status = seen.headersSeen() ? seen.status() : ProxyError.APP_BAD_RESPONSE.httpStatus();
                        metrics.response(Direction.INBOUND, authority, status, seen.grpcStatus(), Duration.ofNanos(System.nanoTime() - started));
                        tapped.end(status, seen.grpcStatus(), Optional.empty());
                    }
                });
            });
        }

        /**
         * Opens a stream to the app at {@code app} whose first headers are {@code forwarded}, and
         * hands it to {@code then}, or null and why not (no connection, or it refused the stream).
         * A connection at the app's stream limit is asked once more, for another.
         */
        private void openAppStream(InetSocketAddress app, H2Stream stream, Http2Headers forwarded, boolean endStream, boolean askAgain,
                                   java.util.function.BiConsumer<H2Stream, String> then) {
            appConnections.connection(app, stream.eventLoop()).addListener(connected -> {
                if (!connected.isSuccess()) {
                    then.accept(null, Causes.rootMessage(connected.cause()));
                    return;
                }
                H2Connection connection = H2Connection.of((Channel) connected.getNow());
                if (connection == null) {
                    then.accept(null, "no stream to " + app);
                    return;
                }
                if (askAgain && connection.atStreamLimit()) {
                    openAppStream(app, stream, forwarded, endStream, false, then);
                    return;
                }
                H2Stream appStream = connection.open(H2Stream.discarding());
                appStream.writeHeaders(forwarded, endStream);
                then.accept(appStream.isOpen() ? appStream : null, "no stream to " + app + " (it takes no new streams)");
            });
        }

        /** Converts the stream to HTTP/1.1 and streams it to the app at {@code app}. */
        private void toHttp1App(H2Stream stream, HeldFrames held, Http2Headers request, boolean endStream, InetSocketAddress app, String authority,
                                long started, TapHub.Tap tapped) {
            AppHttp1Exchange exchange = new AppHttp1Exchange(appPool, metrics, client, app, authority, started, tapped, stream);
            // The exchange reads on once the app is connected.
            exchange.headers(request, endStream);
            held.release(exchange);
        }

        /** The proxy's own metrics, to the scraper identity only. */
        private void serveSelf(H2Stream stream, Http2Headers request) {
            if (!IdentityPattern.exactly(scrape.scraper()).matches(client)) {
                log.info("proxy: {} asked for the proxy's metrics; only {} may", client, scrape.scraper());
                answer(stream, null, request, ProxyError.SCRAPE_DENIED.because(client + " is not " + scrape.scraper()), "", System.nanoTime());
                return;
            }
            if (!"GET".contentEquals(String.valueOf(request.method())) || !"/metrics".contentEquals(String.valueOf(request.path()))) {
                answer(stream, null, request, ProxyError.NOT_FOUND.because(request.method() + " " + request.path()), "", System.nanoTime());
                return;
            }
            byte[] body = scrape.text().get().getBytes(StandardCharsets.UTF_8);
            Http2Headers response = new DefaultHttp2Headers().status("200")
                    .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            stream.writeHeaders(response, false);
            stream.writeData(Unpooled.wrappedBuffer(body), true);
            stream.flush();
            if (stream.isOpen()) {
                stream.close();
            }
        }

        /** A refusal: answered, counted, and a line in the connection log. */
        private void refuse(H2Stream stream, HeldFrames held, Http2Headers request, ProxyFailure why, String authority, long started, Instant start,
                            String target) {
            refusals.refused(stream.connection(), request.method() + " " + request.path() + " of " + client, authority, why);
            connectionLog.inboundRefusal(start, client.spiffeId(), ConnectionLog.addressOf(stream.connection()), target, "http2", true, why.error(),
                    why.getMessage());
            answer(stream, held, request, why, authority, started);
        }

        private void answer(H2Stream stream, HeldFrames held, Http2Headers request, ProxyFailure why, String authority, long started) {
            refusals.answer(stream, held, request, authority, why, started);
        }

        private TapHub.Tap tapStart(H2Stream stream, String method, String authority, String path, InetSocketAddress app) {
            return tap.start(TapEvent.Direction.INBOUND,
                    new Peer(sourceOf(stream.connection()).getHostAddress(), client.spiffeId()),
                    new Peer(app.getAddress().getHostAddress() + ":" + app.getPort(), self.spiffeId()),
                    new RequestInit(method, "http", authority, path), app.getPort());
        }
    }

    /** The caller's address: the mesh connection's peer. */
    private static InetAddress sourceOf(Channel connection) {
        return ((InetSocketAddress) connection.remoteAddress()).getAddress();
    }

    /** The address the mesh connection arrived on: the pod's own, which the app is reached on. */
    private static InetAddress arrivedOn(Channel connection) {
        return ((InetSocketAddress) connection.localAddress()).getAddress();
    }

    static Optional<Integer> parsePort(String text) {
        try {
            int port = Integer.parseInt(text.strip());
            return port >= 1 && port <= 65535 ? Optional.of(port) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
