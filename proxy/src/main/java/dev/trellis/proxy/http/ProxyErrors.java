package dev.trellis.proxy.http;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.h2.H2Stream;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.nio.charset.StandardCharsets;

/** The answers the proxy makes itself, HTTP/1 and HTTP/2, each from a {@link ProxyError} and with a {@value MeshHeaders#PROXY_ERROR} header naming it. */
public final class ProxyErrors {

    private ProxyErrors() {}

    /** An HTTP/1.1 answer to a request the proxy refused or failed. */
    public static FullHttpResponse response(ProxyError error) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(error.httpStatus()),
                Unpooled.copiedBuffer(error.text() + "\n", StandardCharsets.UTF_8));
        response.headers()
                .set(MeshHeaders.PROXY_ERROR, error.text())
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
        return response;
    }

    /** Whether an HTTP/2 request is gRPC (its content type says so). */
    public static boolean isGrpc(Http2Headers request) {
        CharSequence type = request.get(HttpHeaderNames.CONTENT_TYPE);
        return type != null && type.toString().startsWith("application/grpc");
    }

    /**
     * An HTTP/2 answer the proxy makes itself: for gRPC a trailers-only response (HTTP 200) whose
     * {@code grpc-status} says the same thing, so gRPC clients and metrics see a gRPC error.
     */
    public static Http2Headers h2(ProxyError error, boolean grpc) {
        Http2Headers headers = new DefaultHttp2Headers();
        if (grpc) {
            headers.status("200").set(HttpHeaderNames.CONTENT_TYPE, "application/grpc")
                    .setInt("grpc-status", error.grpcCode().value()).set("grpc-message", "trellis proxy: " + error.text());
        } else {
            headers.status(Integer.toString(error.httpStatus()));
        }
        return headers.set(MeshHeaders.PROXY_ERROR, error.text());
    }

    /**
     * Answers {@code stream} with {@link #h2} and ends it: a request still coming is cut off
     * with a reset (CANCEL), which also releases whatever of it is in flight.
     */
    public static void answer(H2Stream stream, ProxyError error, boolean grpc) {
        if (!stream.isOpen()) {
            return;
        }
        stream.writeHeaders(h2(error, grpc), true);
        stream.flush();
        if (stream.isOpen()) {
            stream.close();
        }
    }
}
