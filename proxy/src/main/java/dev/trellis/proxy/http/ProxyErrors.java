package dev.trellis.proxy.http;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/** Responses the proxy makes itself, each with a {@value MeshHeaders#PROXY_ERROR} header naming the cause. */
public final class ProxyErrors {

    private ProxyErrors() {}

    public static FullHttpResponse response(HttpResponseStatus status, String cause) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(cause + "\n", StandardCharsets.UTF_8));
        response.headers()
                .set(MeshHeaders.PROXY_ERROR, cause)
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
        return response;
    }

    /** Whether an HTTP/2 request is gRPC (its content type says so). */
    static boolean isGrpc(io.netty.handler.codec.http2.Http2Headers request) {
        CharSequence type = request.get(HttpHeaderNames.CONTENT_TYPE);
        return type != null && type.toString().startsWith("application/grpc");
    }

    /**
     * An HTTP/2 answer the proxy makes itself: for gRPC a trailers-only response (HTTP 200) whose
     * {@code grpc-status} says the same thing, so gRPC clients and metrics see a gRPC error.
     */
    static io.netty.handler.codec.http2.Http2Headers h2(int status, String cause, boolean grpc) {
        var headers = new io.netty.handler.codec.http2.DefaultHttp2Headers();
        if (grpc) {
            headers.status("200").set(HttpHeaderNames.CONTENT_TYPE, "application/grpc")
                    .setInt("grpc-status", grpcCode(status)).set("grpc-message", "trellis proxy: " + cause);
        } else {
            headers.status(Integer.toString(status));
        }
        return headers.set(MeshHeaders.PROXY_ERROR, cause);
    }

    /** The gRPC code for an HTTP status the proxy answers with (as gRPC maps HTTP statuses). */
    static int grpcCode(int httpStatus) {
        return switch (httpStatus) {
            case 400 -> 13;        // INTERNAL: the proxy could not route it
            case 403 -> 7;         // PERMISSION_DENIED
            case 429 -> 8;         // RESOURCE_EXHAUSTED
            case 504 -> 4;         // DEADLINE_EXCEEDED
            default -> 14;         // UNAVAILABLE (502, 503)
        };
    }
}
