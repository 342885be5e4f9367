package dev.trellis.proxy.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

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

    private static final String CONVERSION_PREFIX = "x-http2-";

    private static final List<String> ALL = List.of(PROXY_ERROR, CLIENT_ID, TARGET_PORT, APP_PROTOCOL);

    private MeshHeaders() {}

    public static void strip(HttpHeaders headers) {
        ALL.forEach(headers::remove);
    }

    public static void strip(Http2Headers headers) {
        ALL.forEach(headers::remove);
    }

    /**
     * Removes every {@code x-http2-*} header: the HTTP/2-to-HTTP/1 conversion writes its stream
     * id, scheme and path there, and they stay inside the proxy (whoever sent one).
     * One pass over the headers, without building their name set.
     */
    public static void stripConversionHeaders(HttpHeaders headers) {
        List<CharSequence> found = null;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            if (AsciiString.regionMatches(name, true, 0, CONVERSION_PREFIX, 0, CONVERSION_PREFIX.length())) {
                if (found == null) {
                    found = new ArrayList<>(4);
                }
                found.add(name);
            }
        }
        if (found != null) {
            found.forEach(headers::remove);
        }
    }
}
