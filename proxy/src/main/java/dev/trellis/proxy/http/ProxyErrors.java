package dev.trellis.proxy.http;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Responses the proxy makes itself, each with a {@value #HEADER} header naming the cause, and
 * the mesh-internal headers that never reach an app.
 */
public final class ProxyErrors {

    /** Names why the proxy answered instead of the app. */
    public static final String HEADER = "trellis-proxy-error";
    /** Tells the server-side app which mesh identity called (set by the server's proxy only). */
    public static final String CLIENT_ID_HEADER = "trellis-client-id";

    private static final List<String> INTERNAL = List.of(HEADER, CLIENT_ID_HEADER);

    private ProxyErrors() {}

    public static FullHttpResponse response(HttpResponseStatus status, String cause) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(cause + "\n", StandardCharsets.UTF_8));
        response.headers()
                .set(HEADER, cause)
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
        return response;
    }

    /** Removes headers that only the mesh may set, so a client cannot forge them. */
    public static void stripInternal(HttpHeaders headers) {
        for (String name : INTERNAL) {
            headers.remove(name);
        }
    }
}
