package dev.trellis.proxy.transport;

/**
 * The user event fired down every open connection's pipeline when the proxy starts draining.
 * Handlers that can end a connection politely react to it: an HTTP/2 server sends GOAWAY and
 * closes once its streams finish, an idle HTTP/1 connection closes at once. Handlers that
 * cannot (opaque TCP) ignore it and the connection keeps the grace period.
 */
public enum DrainSignal {
    INSTANCE
}
