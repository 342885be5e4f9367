package dev.trellis.proxy.http;

import dev.trellis.proxy.h2.H2Connection;
import io.netty.handler.codec.http2.Http2Settings;

/**
 * The proxy's HTTP/2 server connections, bounded as the mesh's gRPC servers are: at most
 * {@value #MAX_RESETS} client resets per {@value #RESET_WINDOW_SECONDS} s (past which the
 * connection gets GOAWAY and closes — CVE-2023-44487), {@value #MAX_CONCURRENT_STREAMS}
 * concurrent streams, a {@value #MAX_HEADER_LIST_BYTES}-byte header list, and a graceful
 * close that lets open streams finish.
 */
public final class H2ServerCodecs {

    static final int MAX_RESETS = 100;
    static final int RESET_WINDOW_SECONDS = 10;
    static final int MAX_CONCURRENT_STREAMS = 256;
    static final int MAX_HEADER_LIST_BYTES = 16 * 1024;

    private H2ServerCodecs() {
    }

    /** A server connection whose streams go to {@code acceptor} on their first headers. */
    public static H2Connection server(H2Connection.Acceptor acceptor) {
        return H2Connection.server(Http2Settings.defaultSettings().maxConcurrentStreams(MAX_CONCURRENT_STREAMS).maxHeaderListSize(MAX_HEADER_LIST_BYTES),
                        acceptor)
                .decoderEnforceMaxRstFramesPerWindow(MAX_RESETS, RESET_WINDOW_SECONDS)
                .gracefulShutdownTimeoutMillis(DrainHandlers.GRACEFUL_CLOSE_WAITS_FOR_STREAMS)
                .build();
    }
}
