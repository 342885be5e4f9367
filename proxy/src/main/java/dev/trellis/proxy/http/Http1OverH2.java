package dev.trellis.proxy.http;

import dev.trellis.proxy.h2.H2Stream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;

/**
 * HTTP/1.1 messages as HTTP/2 frames of one {@link H2Stream}, both ways, as Netty's
 * {@code Http2StreamFrameToHttpObjectCodec} converts them but without a channel per stream:
 * a head becomes HEADERS, content DATA (its buffer passed on, not copied), trailers a last
 * HEADERS; and back. Stateless.
 */
public final class Http1OverH2 {

    private Http1OverH2() {
    }

    /** Writes {@code msg} (whose buffers this takes over) to {@code stream}; flushed by the caller. */
    public static void write(H2Stream stream, HttpObject msg) {
        if (msg instanceof HttpResponse response && response.status().codeClass() == HttpStatusClass.INFORMATIONAL
                && response.status().code() != 101) {
            // A 1xx answer is a HEADERS frame that does not end the stream.
            stream.writeHeaders(HttpConversionUtil.toHttp2Headers(response, true), false);
            if (response instanceof FullHttpResponse full) {
                full.release();
            }
            return;
        }
        if (msg instanceof HttpMessage head) {
            boolean nothingMore = msg instanceof FullHttpMessage full && !full.content().isReadable() && full.trailingHeaders().isEmpty();
            stream.writeHeaders(HttpConversionUtil.toHttp2Headers(head, true), nothingMore);
            if (nothingMore) {
                ((FullHttpMessage) msg).release();
                return;
            }
        }
        if (msg instanceof LastHttpContent last) {
            boolean trailers = !last.trailingHeaders().isEmpty();
            boolean filler = !(last instanceof FullHttpMessage) && !trailers;
            if (last.content().isReadable() || filler) {
                stream.writeData(last.content(), !trailers);
            } else {
                last.release();
            }
            if (trailers) {
                stream.writeHeaders(HttpConversionUtil.toHttp2Headers(last.trailingHeaders(), true), true);
            }
        } else if (msg instanceof HttpContent content) {
            stream.writeData(content.content(), false);
        }
    }

    /**
     * The HTTP/1.1 object for headers read on stream {@code id}: a request's or response's head
     * (whole when {@code endStream}; chunked when it declares no length and may have a body), a
     * whole 1xx answer, or trailers.
     */
    public static HttpObject read(int id, Http2Headers headers, boolean endStream, boolean request, ByteBufAllocator alloc) throws Http2Exception {
        CharSequence status = headers.status();
        if (status != null && status.length() == 3 && status.charAt(0) == '1') {
            return HttpConversionUtil.toFullHttpResponse(id, headers, alloc, true);
        }
        if (endStream) {
            if (headers.method() == null && status == null) {
                LastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, true);
                HttpConversionUtil.addHttp2ToHttpHeaders(id, headers, last.trailingHeaders(), HttpVersion.HTTP_1_1, true, request);
                return last;
            }
            return request ? HttpConversionUtil.toFullHttpRequest(id, headers, alloc, true)
                    : HttpConversionUtil.toFullHttpResponse(id, headers, alloc, true);
        }
        HttpMessage head = request ? HttpConversionUtil.toHttpRequest(id, headers, true) : HttpConversionUtil.toHttpResponse(id, headers, true);
        if ((status == null || !contentAlwaysEmpty(status)) && !HttpUtil.isContentLengthSet(head)) {
            head.headers().add(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        return head;
    }

    /** The HTTP/1.1 content for a DATA frame. */
    public static HttpContent read(ByteBuf data, boolean endStream) {
        return endStream ? new DefaultLastHttpContent(data, true) : new DefaultHttpContent(data);
    }

    /** 204 and 304 never have a body. */
    private static boolean contentAlwaysEmpty(CharSequence status) {
        return status.length() == 3 && (status.charAt(0) == '2' || status.charAt(0) == '3') && status.charAt(1) == '0' && status.charAt(2) == '4';
    }
}
