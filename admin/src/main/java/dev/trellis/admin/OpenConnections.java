package dev.trellis.admin;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * The admin listener's open connections, at most {@code max}, oldest first, each either
 * waiting for a request or answering one. When full, a new connection takes the place of the
 * oldest waiting one — a probe gets in even while slow clients hold every place — and is
 * refused only when every place is answering. Thread-safe.
 */
final class OpenConnections {

    private static final AttributeKey<Boolean> WAITING = AttributeKey.valueOf(OpenConnections.class, "waiting");

    private final int max;
    private final ArrayDeque<Channel> open = new ArrayDeque<>();

    OpenConnections(int max) {
        this.max = max;
    }

    /** Admits {@code channel}, closing the oldest waiting connection when full; false when every place is busy answering. */
    synchronized boolean admit(Channel channel) {
        if (open.size() >= max) {
            Channel evicted = null;
            for (Iterator<Channel> it = open.iterator(); it.hasNext(); ) {
                Channel candidate = it.next();
                if (Boolean.TRUE.equals(candidate.attr(WAITING).get())) {
                    it.remove();
                    evicted = candidate;
                    break;
                }
            }
            if (evicted == null) {
                return false;
            }
            evicted.close();
        }
        channel.attr(WAITING).set(Boolean.TRUE);
        open.addLast(channel);
        channel.closeFuture().addListener(f -> remove(channel));
        return true;
    }

    /** {@code channel} has a whole request and is answering it, or is waiting for the next one. */
    void waiting(Channel channel, boolean waiting) {
        channel.attr(WAITING).set(waiting);
    }

    private synchronized void remove(Channel channel) {
        open.remove(channel);
    }
}
