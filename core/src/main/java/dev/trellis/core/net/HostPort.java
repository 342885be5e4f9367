package dev.trellis.core.net;

import static java.util.Objects.requireNonNull;

import java.net.InetSocketAddress;

/**
 * A {@code host:port} pair as written in flags and configuration, e.g. {@code 127.0.0.1:4191},
 * {@code [::1]:8080} or {@code identity.trellis.svc:8080}. Port 0 asks for any free port.
 */
public record HostPort(String host, int port) {

    public HostPort {
        requireNonNull(host, "host");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("address: host is empty");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("address: port " + port + " is outside 0-65535");
        }
    }

    /** Parses {@code host:port} or {@code [v6]:port}. */
    public static HostPort parse(String text) {
        requireNonNull(text, "text");
        String trimmed = text.strip();
        int colon = trimmed.lastIndexOf(':');
        if (colon <= 0 || colon == trimmed.length() - 1) {
            throw new IllegalArgumentException("address: '" + trimmed + "' is not host:port");
        }
        String host = trimmed.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new IllegalArgumentException("address: '" + trimmed + "': write IPv6 hosts in brackets, [::1]:port");
        }
        int port;
        try {
            port = Integer.parseInt(trimmed.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("address: '" + trimmed + "' has no numeric port");
        }
        return new HostPort(host, port);
    }

    /** An unresolved socket address, for servers and clients to resolve as they bind or connect. */
    public InetSocketAddress toSocketAddress() {
        return new InetSocketAddress(host, port);
    }

    /** True for 127.0.0.0/8, ::1 and {@code localhost}. */
    public boolean isLoopback() {
        return host.equals("localhost") || host.startsWith("127.") || host.equals("::1");
    }

    @Override
    public String toString() {
        return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
    }
}
