package dev.trellis.proxy.inbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.http.MeshHeaders;
import dev.trellis.proxy.http.ProxyErrors;
import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.http.Http1OverH2;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.tap.TapHub;
import dev.trellis.proxy.transport.Causes;
import dev.trellis.proxy.transport.IoRuntime;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One inbound request to an HTTP/1.1 app, streamed: the stream's request (converted to
 * HTTP/1.1 objects by the codec before this handler) goes to a pooled app connection as it
 * arrives, with {@value MeshHeaders#CLIENT_ID} set to the caller's identity and every other
 * mesh-internal header removed, and the app's response goes back on the stream as it
 * arrives. Backpressure holds both ways (a side is not read while the other cannot take
 * more). A response the app ends while the request still comes, or a connection either side
 * leaves mid-exchange, is not reused. Handler of one stream; runs on the stream's event loop,
 * and the app connection's events are brought there.
 */
final class AppHttp1Exchange implements H2Stream.Listener {

    private static final Logger log = LoggerFactory.getLogger(AppHttp1Exchange.class);

    private final AppHttp1Pool pool;
    /** What the app connection reads comes here while this exchange uses it. */
    private final FromApp fromApp = new FromApp();
    private final HttpMetrics metrics;
    private final WorkloadIdentity client;
    private final InetSocketAddress app;
    private final String authority;
    private final long started;
    private final TapHub.Tap tapped;

    private final H2Stream stream;
    private Channel appChannel;
    private final ArrayDeque<HttpObject> held = new ArrayDeque<>();
    private boolean headSeen;
    private boolean requestComplete;
    private boolean responseStarted;
    private boolean headRequest;
    private boolean done;
    private boolean appFlushPending;
    /** The app allows another request on its connection. */
    private boolean appReusable = true;
    /** A HEAD's response went whole; what the codec still brings is its empty end. */
    private boolean skipToEnd;

    AppHttp1Exchange(AppHttp1Pool pool, HttpMetrics metrics, WorkloadIdentity client, InetSocketAddress app, String authority, long started,
                     TapHub.Tap tapped, H2Stream stream) {
        this.stream = requireNonNull(stream, "stream");
        this.pool = requireNonNull(pool, "pool");
        this.metrics = requireNonNull(metrics, "metrics");
        this.client = requireNonNull(client, "client");
        this.app = requireNonNull(app, "app");
        this.authority = requireNonNull(authority, "authority");
        this.started = started;
        this.tapped = requireNonNull(tapped, "tapped");
    }

    @Override
    public void headers(Http2Headers headers, boolean endStream) {
        if (done) {
            return;
        }
        HttpObject converted;
        try {
            converted = Http1OverH2.read(stream.id(), headers, endStream, true, stream.connection().alloc());
        } catch (Http2Exception | RuntimeException e) {
            // A request that cannot be converted (a :path with a space, say) is answered 400 at once;
            // an outside review saw such a stream left unanswered for a minute.
            if (!responseStarted) {
                fail(ProxyError.BAD_REQUEST.because(Causes.rootMessage(e)));
            }
            return;
        }
        fromStream(converted);
    }

    @Override
    public void data(ByteBuf data, boolean endStream) {
        if (done) {
            data.release();
            return;
        }
        fromStream(Http1OverH2.read(data, endStream));
    }

    private void fromStream(HttpObject object) {
        Object msg = object;
        HttpRequest first = null;
        if (!headSeen) {
            if (!(object instanceof HttpRequest request)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            headSeen = true;
            if (!request.decoderResult().isSuccess()) {
                ReferenceCountUtil.release(msg);
                fail(ProxyError.BAD_REQUEST.because(Causes.rootMessage(request.decoderResult().cause())));
                return;
            }
            first = request;
        }
        if (object instanceof LastHttpContent) {
            requestComplete = true;
        }
        if (appChannel == null) {
            // The head is held before the app connection is asked for: a pooled one on this event
            // loop is ready at once, and reading the stream on from there delivers the body
            // re-entrantly, which must reach the app after its head (a pipelined POST's did not).
            held.add(object);
            if (first != null) {
                head(first);
            }
            return;
        }
        toApp(object);
    }

    private void head(HttpRequest request) {
        MeshHeaders.strip(request.headers());
        MeshHeaders.stripConversionHeaders(request.headers());
        request.headers().set(MeshHeaders.CLIENT_ID, client.spiffeId());
        headRequest = io.netty.handler.codec.http.HttpMethod.HEAD.equals(request.method());
        stream.pauseReading();
        pool.acquire(app, stream.eventLoop(), fromApp).addListener(acquired -> onStreamLoop(() -> {
            if (!acquired.isSuccess()) {
                ProxyError error = ProxyFailure.errorOf(acquired.cause(), ProxyError.APP_CONNECT_FAILED);
                fail(error.because(Causes.rootMessage(acquired.cause())));
                return;
            }
            Channel connected = (Channel) acquired.getNow();
            if (done) {
                connected.close();
                return;
            }
            appChannel = connected;
            HttpObject object;
            while ((object = held.poll()) != null) {
                toApp(object);
            }
            flushApp();
            // On already for a pooled connection (then a no-op); a new one starts reading here.
            appChannel.config().setAutoRead(true);
            if (!requestComplete) {
                // The stream's withheld flow-control credit goes back to the caller.
                stream.resumeReading();
            }
        }));
    }

    private void toApp(HttpObject object) {
        appChannel.write(object);
        if (!appFlushPending) {
            appFlushPending = true;
            stream.eventLoop().execute(this::flushApp);
        }
        if (!requestComplete && !appChannel.isWritable()) {
            stream.pauseReading();
        }
    }

    private void flushApp() {
        appFlushPending = false;
        if (appChannel != null) {
            appChannel.flush();
        }
    }

    @Override
    public void writabilityChanged() {
        if (stream.isWritable() && appChannel != null && responseStarted && !done) {
            appChannel.config().setAutoRead(true);
            appChannel.read();
        }
    }

    @Override
    public void closed() {
        releaseHeld();
        if (!done) {
            // The caller went away mid-exchange: the app connection is in an unknown state.
            done = true;
            if (appChannel != null) {
                appChannel.close();
            }
            if (!responseStarted) {
                metrics.response(Direction.INBOUND, authority, 499, elapsed());
            }
        }
    }

    /** The app connection's side: its response, its writability, its end. */
    private final class FromApp extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel from = ctx.channel();
            onStreamLoop(() -> fromApp(from, msg));
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            onStreamLoop(stream::flush);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            Channel from = ctx.channel();
            onStreamLoop(() -> {
                if (from == appChannel && from.isWritable() && !requestComplete && !done) {
                    // The stream's withheld flow-control credit goes back to the caller.
                    stream.resumeReading();
                }
            });
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Channel from = ctx.channel();
            onStreamLoop(() -> {
                if (from != appChannel || done) {
                    return;
                }
                if (responseStarted) {
                    done = true;
                    stream.close();
                } else {
                    fail(ProxyError.APP_CONNECT_FAILED.because("the app at " + app + " closed the connection before answering"));
                }
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("proxy: app connection {} failed: {}", app, cause.toString());
            ctx.close();
        }
    }

    private void fromApp(Channel from, Object msg) {
        if (from != appChannel || done) {
            // A connection whose exchange is over says something unasked: it cannot be trusted with another.
            ReferenceCountUtil.release(msg);
            from.close();
            return;
        }
        if (msg instanceof LastHttpContent end && !(msg instanceof HttpResponse) && !responseStarted && !end.content().isReadable()) {
            // The end of a 1xx answer.
            end.release();
            return;
        }
        if (msg instanceof HttpResponse response && !responseStarted) {
            if (!response.decoderResult().isSuccess()) {
                ReferenceCountUtil.release(msg);
                Channel bad = appChannel;
                fail(ProxyError.APP_BAD_RESPONSE.because("the app at " + app + " answered something that is not HTTP/1.1: "
                        + Causes.rootMessage(response.decoderResult().cause())));
                bad.close();
                return;
            }
            if (response.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                informational(response);
                return;
            }
            responseStarted = true;
            boolean appKeepsAlive = HttpUtil.isKeepAlive(response);
            response.headers().remove(HttpHeaderNames.CONNECTION).remove("keep-alive");
            if (!appKeepsAlive) {
                appReusable = false;
            }
            metrics.response(Direction.INBOUND, authority, response.status().code(), elapsed());
            tapped.end(response.status().code(), Optional.empty(), Optional.empty());
            if (headRequest && !(response instanceof LastHttpContent)) {
                // HTTP/2 has no body to a HEAD: the headers end the stream, whatever Content-Length says.
                Http1OverH2.write(stream, new DefaultFullHttpResponse(response.protocolVersion(), response.status(), Unpooled.EMPTY_BUFFER,
                        response.headers(), io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE));
                skipToEnd = true;
                return;
            }
            toStream(response);
            return;
        }
        if (msg instanceof HttpContent content && responseStarted) {
            if (skipToEnd) {
                content.release();
                if (content instanceof LastHttpContent) {
                    responseEnded();
                }
                return;
            }
            toStream(content);
            return;
        }
        ReferenceCountUtil.release(msg);
    }

    /** {@code 100 Continue} goes on; the hop's other 1xx answers stay here (the empty end the codec adds to each is dropped as unasked). */
    private void informational(HttpResponse response) {
        if (response.status().code() == 100) {
            Http1OverH2.write(stream, new DefaultFullHttpResponse(response.protocolVersion(), response.status()));
            stream.flush();
        }
        ReferenceCountUtil.release(response);
    }

    private void toStream(HttpObject object) {
        boolean last = object instanceof LastHttpContent;
        Http1OverH2.write(stream, object);
        if (last) {
            responseEnded();
        } else if (!stream.isWritable()) {
            appChannel.config().setAutoRead(false);
        }
    }

    private void responseEnded() {
        done = true;
        stream.flush();
        Channel used = appChannel;
        if (requestComplete && appReusable) {
            pool.giveBack(app, used, fromApp);
        } else {
            used.close();
        }
        if (!requestComplete) {
            // The app answered before the request was whole: the rest of it goes nowhere.
            stream.close();
        }
    }

    private void fail(ProxyFailure why) {
        if (done) {
            return;
        }
        done = true;
        releaseHeld();
        if (appChannel != null) {
            appChannel.close();
        }
        ProxyError error = why.error();
        log.info("proxy: inbound HTTP from {} to app {} answered by the proxy ({}): {}", client, app, error.label(), why.getMessage());
        tapped.end(error.httpStatus(), Optional.empty(), Optional.of(error.text()));
        metrics.response(Direction.INBOUND, authority, error.httpStatus(), elapsed());
        if (!stream.isOpen()) {
            return;
        }
        Http1OverH2.write(stream, ProxyErrors.response(error));
        stream.flush();
        if (stream.isOpen()) {
            stream.close();
        }
    }

    private Duration elapsed() {
        return Duration.ofNanos(System.nanoTime() - started);
    }

    private void releaseHeld() {
        HttpObject object;
        while ((object = held.poll()) != null) {
            ReferenceCountUtil.release(object);
        }
    }

    private void onStreamLoop(Runnable task) {
        IoRuntime.runOn(stream.eventLoop(), task);
    }
}
