package dev.trellis.proxy.http;

import io.netty.handler.codec.http.FullHttpRequest;
import java.util.Optional;

/** Test access to {@link HttpOutbound}'s request parsing, for the fuzz target in another package. */
public final class HttpOutboundAccess {

    private HttpOutboundAccess() {
    }

    public static Optional<String> authorityOf(FullHttpRequest request) {
        return HttpOutbound.authorityOf(request);
    }
}
