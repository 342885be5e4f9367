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
}
