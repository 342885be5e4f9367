package dev.trellis.proxy;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;

/**
 * {@code listen} forwards to {@code authority} ({@code host:port}); with {@code http} the
 * connections must speak HTTP/1 or HTTP/2 (gRPC) and are proxied per request / per stream,
 * otherwise they are opaque TCP and never asked to speak first.
 */
public record Forward(HostPort listen, String authority, boolean http) {
    public Forward {
        requireNonNull(listen, "listen");
        requireNonNull(authority, "authority");
        HostPort.parse(authority);
    }

    public Forward(HostPort listen, String authority) {
        this(listen, authority, false);
    }

    /** Parses {@code PORT=authority}, {@code HOST:PORT=authority}, or either with {@code http://} before the authority. */
    public static Forward parse(String text) {
        int equals = text.indexOf('=');
        if (equals <= 0 || equals == text.length() - 1) {
            throw new IllegalArgumentException("forward: '" + text + "' is not PORT=host:port, PORT=http://host:port or HOST:PORT=host:port");
        }
        String listen = text.substring(0, equals).strip();
        HostPort address = listen.chars().allMatch(Character::isDigit)
                ? new HostPort("127.0.0.1", Integer.parseInt(listen)) : HostPort.parse(listen);
        String target = text.substring(equals + 1).strip();
        boolean http = target.startsWith("http://");
        return new Forward(address, http ? target.substring("http://".length()) : target, http);
    }
}
