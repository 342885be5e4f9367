package dev.trellis.proxy.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;

/**
 * The headers only the mesh may set. Whatever an app sends under these names is removed
 * before the proxy adds its own, so none of them can be forged.
 */
public final class MeshHeaders {

    /** Names why the proxy answered instead of the app. */
    public static final String PROXY_ERROR = "trellis-proxy-error";
    /** The caller's mesh identity, set by the server's proxy from the verified certificate. */
    public static final String CLIENT_ID = "trellis-client-id";
    /** The server-side app port, on requests between proxies. */
    public static final String TARGET_PORT = "trellis-target-port";
    /** The {@link #TARGET_PORT} value that addresses the proxy itself (its metrics, for the viz identity only). */
    public static final String TARGET_PROXY = "proxy";
    /** The protocol the server-side app speaks ({@code h2}), on requests between proxies. */
    public static final String APP_PROTOCOL = "trellis-app-protocol";

    private static final List<String> ALL = List.of(PROXY_ERROR, CLIENT_ID, TARGET_PORT, APP_PROTOCOL);

    private MeshHeaders() {}

    public static void strip(HttpHeaders headers) {
        ALL.forEach(headers::remove);
    }

    public static void strip(Http2Headers headers) {
        ALL.forEach(headers::remove);
    }
}
