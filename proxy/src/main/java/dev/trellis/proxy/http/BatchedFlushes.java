package dev.trellis.proxy.http;

import io.netty.handler.flush.FlushConsolidationHandler;

/**
 * One write system call per HTTP/2 connection per round of the event loop, instead of one per
 * stream: every stream of a connection flushes it when it has written (a request's headers, a
 * response's last frame), and at saturation one round of the loop serves many streams of the
 * same connection — each app connection's request, or each app's response, in its turn. A flush
 * asked for while the connection itself reads waits for the end of that read; one asked for from
 * another channel's read (a stream joined to an app connection) waits for a task that runs once
 * the round's ready channels are served. Nothing is held past the round, and a close writes
 * what was held first.
 *
 * <p>Placed between the TLS handler (or the socket) and the HTTP/2 codec, so that the records of
 * one round are wrapped and written together. Measured with {@code bench/proxy-syscalls.sh}
 * (docs/benchmarks.md).
 */
public final class BatchedFlushes {

    /** Past this many flushes within one read, the connection is flushed anyway (Netty's default). */
    private static final int FLUSH_AT_LEAST_EVERY = FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES;

    private BatchedFlushes() {
    }

    /** A handler for one connection. */
    public static FlushConsolidationHandler perLoopRound() {
        return new FlushConsolidationHandler(FLUSH_AT_LEAST_EVERY, true);
    }
}
