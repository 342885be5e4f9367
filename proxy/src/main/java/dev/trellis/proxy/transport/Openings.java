package dev.trellis.proxy.transport;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Connections of one listener that are still opening — accepted, but not yet past their
 * detection, handshake, transport header or first request head — per source address, at
 * most {@code maxPerSource} each. A new connection from a source at its limit closes that
 * source's oldest opening connection: slow openers are bounded in number (an outside review
 * held 4,000 slowloris connections on the outbound listener for 70 s) while a client that
 * opens and asks at once still gets in, even when it shares its source address with the
 * slow ones, as every connection of a pod's app does in transparent mode. A connection stops
 * counting when it settles ({@link #settle}) or closes. Thread-safe.
 */
public final class Openings {

    private static final AttributeKey<Openings> SLOT = AttributeKey.valueOf(Openings.class, "slot");

    private final int maxPerSource;
    private final Map<InetAddress, ArrayDeque<Channel>> bySource = new HashMap<>();
    private long evicted;

    public Openings(int maxPerSource) {
        if (maxPerSource < 1) {
            throw new IllegalArgumentException("proxy: at most " + maxPerSource + " opening connections per source makes no sense");
        }
        this.maxPerSource = maxPerSource;
    }

    /** Counts {@code channel} as opening; returns the connection it displaced, if its source was at the limit (the caller closes it). */
    java.util.Optional<Channel> admit(Channel channel) {
        InetAddress source = sourceOf(channel);
        Channel oldest = null;
        synchronized (this) {
            ArrayDeque<Channel> opening = bySource.computeIfAbsent(source, s -> new ArrayDeque<>());
            if (opening.size() >= maxPerSource) {
                oldest = opening.pollFirst();
                evicted++;
            }
            opening.addLast(channel);
        }
        if (oldest != null) {
            oldest.attr(SLOT).set(null);
        }
        channel.attr(SLOT).set(this);
        channel.closeFuture().addListener(f -> settle(channel));
        return java.util.Optional.ofNullable(oldest);
    }

    /** {@code channel} is open for business, or closed: it no longer counts against its source. Idempotent. */
    public static void settle(Channel channel) {
        Openings openings = channel.attr(SLOT).getAndSet(null);
        if (openings != null) {
            openings.remove(channel);
        }
    }

    /** Opening connections from {@code source} now. */
    public synchronized int opening(InetAddress source) {
        ArrayDeque<Channel> opening = bySource.get(source);
        return opening == null ? 0 : opening.size();
    }

    /** Opening connections closed to make room for newer ones, since start. */
    public synchronized long evicted() {
        return evicted;
    }

    private synchronized void remove(Channel channel) {
        InetAddress source = sourceOf(channel);
        ArrayDeque<Channel> opening = bySource.get(source);
        if (opening != null) {
            opening.remove(channel);
            if (opening.isEmpty()) {
                bySource.remove(source);
            }
        }
    }

    private static InetAddress sourceOf(Channel channel) {
        return ((InetSocketAddress) channel.remoteAddress()).getAddress();
    }
}
