package dev.trellis.proxy.routes;

import dev.trellis.wire.destination.Route;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http2.Http2Headers;

/** A route's header modifier applied to an HTTP/1 or HTTP/2 head: set (replacing), then add, then remove, as the Gateway API orders them. */
public final class HeaderEdits {

    private HeaderEdits() {
    }

    public static void apply(Route.HeaderEdit edit, HttpHeaders headers) {
        if (edit.isEmpty()) {
            return;
        }
        edit.set().forEach(h -> headers.set(h.name(), h.value()));
        edit.add().forEach(h -> headers.add(h.name(), h.value()));
        edit.remove().forEach(headers::remove);
    }

    public static void apply(Route.HeaderEdit edit, Http2Headers headers) {
        if (edit.isEmpty()) {
            return;
        }
        edit.set().forEach(h -> headers.set(h.name(), h.value()));
        edit.add().forEach(h -> headers.add(h.name(), h.value()));
        edit.remove().forEach(headers::remove);
    }
}
