package dev.trellis.proxy.http;

import dev.trellis.proxy.errors.ProxyError;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;

/**
 * Where the HTTP paths report what became of each request on an app's connection, so that
 * the connection log can say it truthfully: a request the proxy answered itself is a refusal
 * with its own line, never part of an {@code allowed} connection. Set on the client
 * connection by whoever logs it; reached from the connection or any of its HTTP/2 streams.
 * Calls come on the connection's event loop.
 */
public interface RequestOutcomes {

    AttributeKey<RequestOutcomes> KEY = AttributeKey.valueOf(RequestOutcomes.class, "outcomes");

    /** Nobody is listening (connections no log was attached to). */
    RequestOutcomes NONE = new RequestOutcomes() {
        @Override
        public void forwarded() {
        }

        @Override
        public void refused(ProxyError error, String authority, String reason) {
        }
    };

    /** A request went to its destination, whatever the destination answered. */
    void forwarded();

    /** The proxy answered a request to {@code authority} itself with {@code error}. */
    void refused(ProxyError error, String authority, String reason);

    /** The outcomes of {@code channel}'s connection (its parent's, for a stream). */
    static RequestOutcomes of(Channel channel) {
        Channel connection = channel instanceof io.netty.handler.codec.http2.Http2StreamChannel ? channel.parent() : channel;
        RequestOutcomes outcomes = connection.attr(KEY).get();
        return outcomes == null ? NONE : outcomes;
    }
}
