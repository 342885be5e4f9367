package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.discovery.EndpointSet;
import dev.trellis.proxy.routes.HeaderEdits;
import dev.trellis.proxy.routes.MatchedRoute;
import dev.trellis.wire.destination.Route;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.http.Http1OverH2;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.http.ProxyErrors;
import dev.trellis.proxy.http.Refusals;
import dev.trellis.proxy.http.RequestOutcomes;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.Deadlines;
import dev.trellis.proxy.transport.IoRuntime;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One HTTP/1.1 request on its way out, streamed: its head and body go to the chosen endpoint
 * as an HTTP/2 stream while the client still sends, and the response comes back to the
 * client as it arrives — nothing is aggregated, so a body of any size costs the proxy only
 * what is in flight. Backpressure holds both ways: the client is not read while the stream
 * cannot take more, the stream is not read while the client cannot.
 *
 * <p>A request with no body or a declared body of at most {@value #MAX_REPLAYABLE_BODY_BYTES}
 * bytes is held whole before it goes, so that it can be sent again: to another endpoint when
 * the first failed before answering (idempotent methods or routes the profile calls
 * retryable, within the authority's {@link RetryBudget}), or whatever its method when a
 * draining endpoint refused it unprocessed (GOAWAY). Larger or chunked bodies stream and are
 * tried once, once the endpoint's stream is open. Which of these may happen is the retry
 * layer's decision ({@link Attempts}); this class carries it out.
 *
 * <p>Timeouts: the response's head must come within the route's timeout (else the proxy's
 * request timeout) of the request's last byte. While the body is read, every window of
 * {@code bodyWindow} (the header timeout) must bring at least
 * {@value BodyRate#MIN_BYTES_PER_SECOND} bytes a second ({@link BodyRate}), as Kestrel requires: a client
 * trickling a byte now and then cannot hold the exchange open, and windows in which the
 * proxy itself is not reading (backpressure) do not count. Everything runs on the client
 * connection's event loop; events of the endpoint's stream are brought there.
 */
final class OutboundExchange {

    private static final Logger log = LoggerFactory.getLogger(OutboundExchange.class);

    static final int MAX_REPLAYABLE_BODY_BYTES = 64 * 1024;
    private static final Set<HttpMethod> IDEMPOTENT = Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.OPTIONS, HttpMethod.PUT,
            HttpMethod.DELETE, HttpMethod.TRACE);

    /** What the exchange needs from the path it runs on; one per proxy. */
    interface Path {
        /** Where an endpoint is picked and the request's stream opened. */
        EndpointStreams endpoints();

        /** The deadline wheels of the proxy's loops. */
        Deadlines.Source deadlines();

        HttpMetrics metrics();

        /** Where the routes' mirrors send their copies. */
        Mirrors mirrors();

        /** Where the requests the proxy answers itself are logged and counted. */
        Refusals refusals();

        RetryBudget budget(String authority);

        Duration requestTimeout();

        boolean draining();
    }

    /** The client connection's side: told when the answer is out and whether the connection may go on. */
    interface Client {
        /** The answer is written (its last byte queued); {@code reusable}: the connection may carry the next request. */
        void answered(boolean reusable);
    }

    private final Path path;
    private final Channel client;
    private final EventLoop loop;
    private final Client owner;
    private final HttpRequest head;
    private final String authority;
    /** The route the request matched, once its authority's profile is known ({@link #routed}). */
    private MatchedRoute route = MatchedRoute.DEFAULT;
    private final long started = System.nanoTime();
    private final boolean replayable;
    private final boolean clientKeepAlive;

    /** Body read and not yet sent (streaming), or the whole body (replayable). */
    private final ArrayDeque<HttpContent> held = new ArrayDeque<>();
    private boolean requestComplete;
    private EndpointSet endpoints;
    /** The retry layer: endpoints tried, and whether the request may go again (as its route says, once routed). */
    private Attempts attempts;

    /** The current attempt's stream, once open; events from older attempts' streams are ignored. */
    private H2Stream stream;
    private Balancer.Lease lease;
    /** The body goes straight to {@link #stream} as it is read. */
    private boolean streaming;
    private boolean responseStarted;
    private boolean done;
    private Deadlines.Deadline responseTimer;
    private final Deadlines deadlines;
    /** The body's minimum rate, measured while it is read. */
    private final BodyRate bodyRate;
    private final UpstreamFlush upstreamFlush = new UpstreamFlush();
    private boolean clientFlushScheduled;
    /** Set when the route redirects: answered once the request is read. */
    private Route.Redirect pendingRedirect;

    OutboundExchange(Path path, Channel client, Client owner, HttpRequest head, String authority, Duration bodyWindow) {
        this.path = requireNonNull(path, "path");
        this.client = requireNonNull(client, "client");
        this.loop = client.eventLoop();
        this.owner = requireNonNull(owner, "owner");
        this.head = requireNonNull(head, "head");
        this.authority = requireNonNull(authority, "authority");
        this.deadlines = path.deadlines().of(loop);
        this.bodyRate = new BodyRate(deadlines, bodyWindow, () -> !client.config().isAutoRead(), this::bodyTooSlow);
        this.clientKeepAlive = HttpUtil.isKeepAlive(head);
        this.attempts = new Attempts(idempotent(head.method()), path.budget(authority));
        this.replayable = hasSmallDeclaredBody(head);
        if (!replayable) {
            // Read on once the endpoint's stream can take the body.
            client.config().setAutoRead(false);
        }
        if (HttpUtil.isTransferEncodingChunked(head) || HttpUtil.getContentLength(head, 0L) > 0) {
            // A body is coming: from now on it must keep its minimum rate.
            bodyRate.restart();
        }
        head.headers().set(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(), "http");
        if (!head.headers().contains(HttpHeaderNames.HOST)) {
            head.headers().set(HttpHeaderNames.HOST, authority);
        }
    }

    /**
     * The route the request matched (its authority's profile is known now): its retry policy,
     * and its filters, which change the request before it goes anywhere. Called once, before
     * {@link #resolved} or {@link #redirect}.
     */
    void routed(MatchedRoute route) {
        this.route = requireNonNull(route, "route");
        this.attempts = new Attempts(route.retryable() || idempotent(head.method()),
                route.retry().map(r -> r.attempts()).orElse(Attempts.DEFAULT_RETRIES), path.budget(authority));
        HeaderEdits.apply(route.filters().requestHeaders(), head.headers());
        route.filters().rewrite().ifPresent(rewrite -> {
            if (!rewrite.hostname().isEmpty()) {
                head.headers().set(HttpHeaderNames.HOST, rewrite.hostname());
            }
            head.setUri(MatchedRoute.rewritePath(head.uri(), rewrite.hasPath(), rewrite.path(), rewrite.prefixMatch(), route.matchedPrefix()));
        });
    }

    /** The route redirects: once the request is read, the proxy answers with where to go instead. */
    void redirect(Route.Redirect redirect) {
        if (done) {
            return;
        }
        pendingRedirect = redirect;
        if (requestComplete) {
            answerRedirect();
        } else if (!client.config().isAutoRead()) {
            client.config().setAutoRead(true);
            client.read();
        }
    }

    private void answerRedirect() {
        Route.Redirect redirect = pendingRedirect;
        String requestHost = head.headers().get(HttpHeaderNames.HOST, authority);
        dev.trellis.core.net.HostPort requested;
        try {
            requested = dev.trellis.core.net.HostPort.parse(requestHost.contains(":") ? requestHost : requestHost + ":80");
        } catch (IllegalArgumentException e) {
            requested = dev.trellis.core.net.HostPort.parse(authority);
        }
        String location = route.redirectLocation(requested, "http", head.uri());
        end(true);
        io.netty.handler.codec.http.DefaultFullHttpResponse response = new io.netty.handler.codec.http.DefaultFullHttpResponse(
                head.protocolVersion(), io.netty.handler.codec.http.HttpResponseStatus.valueOf(redirect.status()));
        response.headers().set(HttpHeaderNames.LOCATION, location);
        HttpUtil.setContentLength(response, 0);
        HeaderEdits.apply(route.filters().responseHeaders(), response.headers());
        boolean reusable = reusable();
        HttpUtil.setKeepAlive(response, reusable);
        record(redirect.status());
        RequestOutcomes.of(client).forwarded();
        writeClient(response);
        flushClient();
        owner.answered(reusable);
    }

    /** No body, or a Content-Length within the replay buffer, and no {@code Expect: 100-continue} (its client waits for the server). */
    private static boolean hasSmallDeclaredBody(HttpRequest head) {
        return !HttpUtil.isTransferEncodingChunked(head) && !HttpUtil.is100ContinueExpected(head)
                && HttpUtil.getContentLength(head, 0L) <= MAX_REPLAYABLE_BODY_BYTES;
    }

    static boolean idempotent(HttpMethod method) {
        return IDEMPOTENT.contains(method);
    }

    EventLoop loop() {
        return loop;
    }

    boolean requestComplete() {
        return requestComplete;
    }

    /** Discovery answered: the endpoints to balance over. */
    void resolved(EndpointSet endpoints) {
        if (done) {
            return;
        }
        this.endpoints = endpoints;
        if (!replayable || requestComplete) {
            send();
        }
    }

    /** A piece of the request's body, read from the client. */
    void body(HttpContent content) {
        if (done || (pendingRedirect != null && !(content instanceof LastHttpContent))) {
            content.release();
            return;
        }
        boolean last = content instanceof LastHttpContent;
        bodyRate.read(content.content().readableBytes());
        if (streaming) {
            upstreamFlush.write(content);
        } else {
            held.add(content);
        }
        if (last) {
            requestComplete = true;
            bodyRate.stop();
            if (pendingRedirect != null) {
                answerRedirect();
                return;
            }
            // The connection reads on (pausing it per request cost two epoll system calls): what
            // the client pipelines waits in HttpOutbound's request queue, which pauses it then.
            if (streaming) {
                armResponseTimer();
            } else if (replayable && endpoints != null && attempts.made() == 0) {
                send();
            }
        } else if (streaming && !stream.isWritable()) {
            pauseClient();
        }
    }

    /** The client's reads of one burst are in: send what they gave. */
    void flushUpstream() {
        upstreamFlush.flushNow();
    }

    private void send() {
        if (attempts.made() == 0 && replayable) {
            mirror();
        }
        attempts.begin();
        var picked = path.endpoints().pick(endpoints, attempts.avoid());
        if (picked.isEmpty()) {
            fail(NoUsableEndpoint.why(authority, endpoints));
            return;
        }
        Balancer.Lease chosen = picked.get();
        this.lease = chosen;
        FromEndpoint listener = new FromEndpoint();
        boolean wholeWithoutBody = replayable && !heldBodyReadable();
        path.endpoints().open(chosen, loop, listener, this::firstHeaders, wholeWithoutBody, new EndpointStreams.Opening() {
            @Override
            public void opened(H2Stream opened, Balancer.Lease lease) {
                if (done || OutboundExchange.this.lease != chosen) {
                    opened.close();
                    return;
                }
                listener.stream = opened;
                started(opened, wholeWithoutBody);
            }

            @Override
            public void failed(EndpointStreams.CannotOpen why, Balancer.Lease lease) {
                if (done || OutboundExchange.this.lease != chosen) {
                    return;
                }
                if (why.unprocessed()) {
                    unprocessed(why.why().getMessage());
                } else {
                    retryOr(why.why(), true);
                }
            }
        });
    }

    /** The route mirrors this request: a copy of it (held whole) goes to the mirror's Service as well, its answer dropped. */
    private void mirror() {
        route.filters().mirror().filter(m -> Mirrors.chosen(m.percent())).ifPresent(m -> {
            Http2Headers base = HttpConversionUtil.toHttp2Headers(wholeHead(), true);
            java.util.List<ByteBuf> body = new java.util.ArrayList<>();
            for (HttpContent content : held) {
                if (content.content().isReadable()) {
                    body.add(content.content().retainedDuplicate());
                }
            }
            path.mirrors().send(m.authority(), chosen -> new io.netty.handler.codec.http2.DefaultHttp2Headers().add(base)
                    .set(MeshHeaders.TARGET_PORT, Integer.toString(chosen.endpoint().address().getPort())), body, loop);
        });
    }

    /** The request's head as the endpoint's stream opens with it. */
    private Http2Headers firstHeaders(Balancer.Lease chosen) {
        head.headers().set(MeshHeaders.TARGET_PORT, chosen.endpoint().address().getPort());
        HttpRequest first = replayable ? wholeHead() : head;
        return HttpConversionUtil.toHttp2Headers(first, true);
    }

    /** The endpoint's stream is open and has the request's head: the rest of the request goes. */
    private void started(H2Stream opened, boolean wholeWithoutBody) {
        this.stream = opened;
        upstreamFlush.target = opened;
        if (replayable) {
            if (!wholeWithoutBody) {
                // The held body goes as it is (duplicates: it stays held for another attempt); the last piece ends the stream.
                HttpContent last = null;
                for (HttpContent content : held) {
                    if (content.content().isReadable()) {
                        if (last != null) {
                            opened.writeData(last.content().retainedDuplicate(), false);
                        }
                        last = content;
                    }
                }
                opened.writeData(last.content().retainedDuplicate(), true);
            }
            opened.flush();
            armResponseTimer();
        } else {
            streaming = true;
            HttpContent content;
            while ((content = held.poll()) != null) {
                upstreamFlush.write(content);
            }
            upstreamFlush.flushNow();
            opened.flush();
            if (requestComplete) {
                armResponseTimer();
            } else {
                resumeClient();
            }
        }
    }

    private boolean heldBodyReadable() {
        for (HttpContent content : held) {
            if (content.content().isReadable()) {
                return true;
            }
        }
        return false;
    }

    /** The held request's head, for a body sent whole: its length said, chunking gone (the held body stays for another attempt). */
    private HttpRequest wholeHead() {
        long length = 0;
        for (HttpContent content : held) {
            length += content.content().readableBytes();
        }
        HttpRequest copy = new io.netty.handler.codec.http.DefaultHttpRequest(head.protocolVersion(), head.method(), head.uri(), head.headers().copy());
        copy.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        HttpUtil.setContentLength(copy, length);
        return copy;
    }

    /** Reads the endpoint's stream of one attempt, bringing each event to the client's event loop. */
    private final class FromEndpoint implements H2Stream.Listener {
        /** Set once the stream is open; events of an attempt that is no longer current are dropped. */
        H2Stream stream;

        @Override
        public void headers(Http2Headers headers, boolean endStream) {
            H2Stream from = stream;
            onLoop(() -> {
                if (from != OutboundExchange.this.stream || done) {
                    return;
                }
                HttpObject converted;
                try {
                    converted = Http1OverH2.read(from.id(), headers, endStream, false, client.alloc());
                } catch (Http2Exception | RuntimeException e) {
                    log.debug("proxy: unconvertible response from {}: {}", authority, e.toString());
                    endpointLost("the response could not be converted to HTTP/1.1: " + Causes.rootMessage(e));
                    return;
                }
                fromEndpoint(from, converted);
            });
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            H2Stream from = stream;
            onLoop(() -> fromEndpoint(from, Http1OverH2.read(data, endStream)));
        }

        @Override
        public void writabilityChanged() {
            H2Stream from = stream;
            onLoop(() -> {
                if (from == OutboundExchange.this.stream && streaming && !requestComplete && from.isWritable()) {
                    resumeClient();
                }
            });
        }

        @Override
        public void refused() {
            // Our stream came after the last one the draining server accepted.
            H2Stream from = stream;
            onLoop(() -> {
                if (from != null && from == OutboundExchange.this.stream && !responseStarted) {
                    unprocessed("stream refused by GOAWAY");
                }
            });
        }

        @Override
        public void closed() {
            H2Stream from = stream;
            onLoop(() -> {
                if (from != null && from == OutboundExchange.this.stream && !done) {
                    endpointLost("the stream closed before the response ended");
                }
            });
        }
    }

    private void fromEndpoint(H2Stream from, Object msg) {
        if (from != stream || done) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpResponse response && !responseStarted) {
            if (response.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                informational(response);
                return;
            }
            if (responseHead(response) && msg instanceof LastHttpContent) {
                responseEnded();
            }
            return;
        }
        if (msg instanceof HttpContent content && responseStarted) {
            if (content instanceof LastHttpContent) {
                client.write(content);
                responseEnded();
                return;
            }
            writeClient(content);
            if (!client.isWritable()) {
                stream.pauseReading();
            }
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    /** {@code 100 Continue} goes to a client that asked for it; other 1xx answers are the hop's own and are dropped. */
    private void informational(HttpResponse response) {
        if (response.status().code() == 100 && HttpUtil.is100ContinueExpected(head)) {
            // A fresh one: the converted answer carries the conversion's own headers (x-http2-stream-id), which are no one's business.
            writeClient(new io.netty.handler.codec.http.DefaultFullHttpResponse(head.protocolVersion(), response.status()));
        }
        ReferenceCountUtil.release(response);
    }

    /** Whether the response goes to the client (else the request went again). */
    private boolean responseHead(HttpResponse response) {
        cancel(responseTimer);
        if (isEndpointFailure(response)) {
            // The endpoint's proxy could not reach its app: the endpoint failed, not the request.
            lease.failed();
            if (attempts.mayRetry(resendable())) {
                ReferenceCountUtil.release(response);
                H2Stream abandoned = stream;
                stream = null;
                abandoned.close();
                retry();
                return false;
            }
        } else {
            lease.succeeded();
            if (retriesOn(response.status().code()) && requestComplete && attempts.mayRetry(replayable)) {
                // The route's retry policy names this status: the request goes again (the same endpoint may answer it).
                log.debug("proxy: {} {}{}: {} from {}; retrying as route {} says", head.method(), authority, head.uri(), response.status().code(),
                        lease.endpoint().address(), route.name());
                ReferenceCountUtil.release(response);
                H2Stream abandoned = stream;
                stream = null;
                abandoned.close();
                send();
                return false;
            }
        }
        responseStarted = true;
        MeshHeaders.stripConversionHeaders(response.headers());
        HeaderEdits.apply(route.filters().responseHeaders(), response.headers());
        HttpUtil.setKeepAlive(response, reusable());
        if (response instanceof FullHttpResponse whole && !HttpUtil.isContentLengthSet(whole) && !HttpUtil.isTransferEncodingChunked(whole)
                && !HttpMethod.HEAD.equals(head.method()) && whole.status().code() != 204 && whole.status().code() != 304) {
            // HTTP/2 ended the stream; an HTTP/1.1 client on a kept-alive connection needs the length said.
            HttpUtil.setContentLength(whole, whole.content().readableBytes());
        }
        record(response.status().code());
        RequestOutcomes.of(client).forwarded();
        if (response instanceof LastHttpContent) {
            client.write(response);   // whole: responseEnded flushes it
        } else {
            writeClient(response);
        }
        return true;
    }

    private void responseEnded() {
        flushClient();
        // The app may answer before the request was whole: the rest of the request goes nowhere.
        end(!requestComplete);
        owner.answered(reusable() && requestComplete);
    }

    private boolean reusable() {
        return clientKeepAlive && !path.draining();
    }

    /** The stream ended without a (whole) response. */
    private void endpointLost(String what) {
        cancel(responseTimer);
        if (responseStarted) {
            // Part of the response is out: all the client can learn is that the connection ends.
            log.debug("proxy: {} {}{}: {} mid-response", head.method(), authority, head.uri(), what);
            finishWithClose();
            return;
        }
        lease.failed();
        retryOr(ProxyError.CONNECT_FAILED.because(lease.endpoint().address() + ": " + what), false);
    }

    /** The endpoint never processed the request (a draining server's GOAWAY): any method may go again, elsewhere. */
    private void unprocessed(String why) {
        log.debug("proxy: {} {}{} attempt {}: {}", head.method(), authority, head.uri(), attempts.made(), why);
        lease.succeeded();
        H2Stream abandoned = stream;
        stream = null;
        if (abandoned != null) {
            abandoned.close();
        }
        if (attempts.mayResendUnprocessed(resendable())) {
            attempts.failedOn(lease.endpoint().address());
            send();
        } else {
            fail(ProxyError.CONNECT_FAILED.because(lease.endpoint().address() + ": " + why));
        }
    }

    /** Another endpoint when the request may go again, else {@code why}. {@code nothingSent}: the failure came before the stream. */
    private void retryOr(ProxyFailure why, boolean nothingSent) {
        H2Stream abandoned = stream;
        stream = null;
        if (abandoned != null) {
            abandoned.close();
        }
        if ((nothingSent || replayable) && attempts.mayRetry(resendable())) {
            retry();
        } else {
            fail(why);
        }
    }

    /** The body can be sent whole again: it is held, or none of it has gone yet. */
    private boolean resendable() {
        return replayable || !streaming;
    }

    private void retry() {
        attempts.failedOn(lease.endpoint().address());
        send();
    }

    private void armResponseTimer() {
        cancel(responseTimer);
        // Each try within the route's backend timeout, and all of them within its request timeout.
        Duration timeout = withinRequestTimeout(route.tryTimeout(path.requestTimeout()));
        Balancer.Lease current = lease;
        responseTimer = deadlines.schedule(timeout, () -> {
            if (done || responseStarted || lease != current) {
                return;
            }
            current.failed();
            H2Stream abandoned = stream;
            stream = null;
            // Whether the endpoint can have had the whole request: a stream that still cannot take more holds part of it
            // (its flow-control window was not opened again), which tells a stalled hop from a slow app.
            String held = abandoned != null && !abandoned.isWritable()
                    ? "; the stream still held part of the request (no flow-control credit from the endpoint)" : "";
            if (abandoned != null) {
                abandoned.close();
            }
            fail(ProxyError.REQUEST_TIMEOUT.because("no response from " + current.endpoint().address() + " within " + timeout + held));
        });
    }

    /** {@code tryTimeout}, or what is left of the route's request timeout when that is less. */
    private Duration withinRequestTimeout(Duration tryTimeout) {
        if (route.timeout().isEmpty()) {
            return tryTimeout;
        }
        Duration left = route.timeout().get().minusNanos(System.nanoTime() - started);
        return left.compareTo(tryTimeout) >= 0 ? tryTimeout : left.isNegative() ? Duration.ZERO : left;
    }

    /** The body came below its minimum rate. */
    private void bodyTooSlow(String reason) {
        if (done || requestComplete) {
            return;
        }
        ProxyFailure why = ProxyError.HEADER_TIMEOUT.because(reason);
        if (responseStarted) {
            log.info("proxy: {} {}{}: {}", head.method(), authority, head.uri(), why.getMessage());
            finishWithClose();
        } else {
            fail(why);
        }
    }

    private void pauseClient() {
        client.config().setAutoRead(false);
        bodyRate.pause();
    }

    private void resumeClient() {
        if (done || requestComplete) {
            return;
        }
        client.config().setAutoRead(true);
        client.read();
        bodyRate.restart();
    }

    /** The client drained: the endpoint's stream may be read again. */
    void clientWritable() {
        if (client.isWritable() && stream != null && responseStarted && !done) {
            // The stream's withheld flow-control credit goes back to the endpoint.
            stream.resumeReading();
        }
    }

    /** The client went away: the exchange ends, and the endpoint's stream with it. */
    void clientGone() {
        if (done) {
            return;
        }
        if (lease != null && !responseStarted) {
            lease.succeeded();
        }
        end(true);
        if (!responseStarted) {
            Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
            path.metrics().response(Direction.OUTBOUND, authority, 499, elapsed);
        }
    }

    /** The proxy answers the request itself: logged, counted, and a line in the connection log. */
    void fail(ProxyFailure why) {
        if (done) {
            return;
        }
        end(true);
        record(why.error().httpStatus());
        path.refusals().refused(client, head.method() + " " + head.uri(), authority, why);
        FullHttpResponse response = ProxyErrors.response(why.error());
        // Keep the connection only when the request was read whole: the client's next bytes are then a new request.
        boolean reusable = reusable() && requestComplete;
        HttpUtil.setKeepAlive(response, reusable);
        writeClient(response);
        flushClient();
        owner.answered(reusable);
    }

    private void finishWithClose() {
        end(true);
        client.flush();
        client.close();
    }

    /** The exchange is over: its timers stop, what it held is released, and its stream closes when {@code closeStream}. */
    private void end(boolean closeStream) {
        done = true;
        bodyRate.stop();
        cancel(responseTimer);
        releaseHeld();
        if (closeStream && stream != null) {
            stream.close();
            stream = null;
        }
    }

    private void record(int status) {
        Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
        path.metrics().response(Direction.OUTBOUND, authority, status, elapsed);
        path.metrics().routeResponse(authority, destination(), route.name(), route.kind(), status, java.util.Optional.empty(), elapsed);
    }

    /** The Service discovery says this request went to (every endpoint of a set carries its Service's labels). */
    private HttpMetrics.Destination destination() {
        if (lease != null) {
            return HttpMetrics.Destination.of(lease.endpoint().labels());
        }
        return endpoints == null || endpoints.endpoints().isEmpty() ? HttpMetrics.Destination.UNKNOWN
                : HttpMetrics.Destination.of(endpoints.endpoints().getFirst().labels());
    }

    /** Whether the route's retry policy names {@code status}. */
    private boolean retriesOn(int status) {
        return route.retry().map(r -> r.httpStatuses().contains(status)).orElse(false);
    }

    private static boolean isEndpointFailure(HttpResponse response) {
        int status = response.status().code();
        return (status == 502 || status == 503) && response.headers().contains(MeshHeaders.PROXY_ERROR);
    }

    private void writeClient(Object msg) {
        client.write(msg);
        if (!clientFlushScheduled) {
            clientFlushScheduled = true;
            loop.execute(this::flushClient);
        }
    }

    private void flushClient() {
        clientFlushScheduled = false;
        client.flush();
    }

    private void releaseHeld() {
        HttpContent content;
        while ((content = held.poll()) != null) {
            content.release();
        }
    }

    private void onLoop(Runnable task) {
        IoRuntime.runOn(loop, task);
    }

    private static void cancel(Deadlines.Deadline timer) {
        if (timer != null) {
            timer.cancel();
        }
    }

    /** Writes to the endpoint's stream, flushed once per burst of the client's reads. */
    private static final class UpstreamFlush {
        H2Stream target;
        private boolean pending;

        void write(HttpObject msg) {
            Http1OverH2.write(target, msg);
            pending = true;
        }

        void flushNow() {
            if (pending && target != null) {
                pending = false;
                target.flush();
            }
        }
    }
}
