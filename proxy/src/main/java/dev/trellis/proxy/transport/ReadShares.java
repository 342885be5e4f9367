package dev.trellis.proxy.transport;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.AttributeKey;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Fair reading among the pods one node proxy hosts on shared event loops: each pod's accepted
 * connections read through its {@link Share}, a token bucket of read operations. A pod over its
 * rate waits for its next token only while another pod read recently (work-conserving: a pod
 * alone on its node proxy reads as fast as a sidecar would). Waiting means not reading, so a
 * flooding pod's excess stays in its own sockets' buffers, costing the loops nothing, instead
 * of being read and refused. Thread-safe.
 */
public final class ReadShares {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ReadShares.class);
    /** Messages one connection may have held before it stops reading. */
    static final int MAX_HELD = 64;
    /** Messages one connection may have held before it is closed. */
    static final int MAX_HELD_CLOSE = 1024;

    /** Another pod counts as active this long after its last read. */
    static final long ACTIVE_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    private final double perSecond;
    private final int burst;
    private final Set<Share> shares = ConcurrentHashMap.newKeySet();

    /** Each pod may read {@code perSecond} times a second, {@code burst} at once, while others are active. */
    public ReadShares(double perSecond, int burst) {
        if (perSecond <= 0 || burst < 1) {
            throw new IllegalArgumentException("read shares: a positive rate and a burst of at least 1, not " + perSecond + "/s, " + burst);
        }
        this.perSecond = perSecond;
        this.burst = burst;
    }

    /** A new pod's share; {@link Share#close} when the pod goes. */
    public Share share(String pod) {
        Share share = new Share(pod);
        shares.add(share);
        return share;
    }

    private boolean othersActive(Share me, long now) {
        for (Share share : shares) {
            if (share != me && now - share.lastRead < ACTIVE_NANOS) {
                return true;
            }
        }
        return false;
    }

    /** One pod's share: its bucket and the handler its connections read through. */
    public final class Share implements AutoCloseable {
        private final String pod;
        private final Gate gate = new Gate();
        private final dev.trellis.ratelimit.TokenBucket bucket = new dev.trellis.ratelimit.TokenBucket(perSecond, burst, System.nanoTime());
        private volatile long lastRead;
        private final java.util.concurrent.atomic.AtomicLong waited = new java.util.concurrent.atomic.AtomicLong();

        private Share(String pod) {
            this.pod = pod;
        }

        /** 0 when a read may go now; otherwise how long to wait, in nanoseconds. */
        long admit(long now) {
            lastRead = now;
            long wait = bucket.tryTake(now).toNanos();
            if (wait == 0 || !othersActive(this, now)) {
                return 0;
            }
            waited.incrementAndGet();
            return wait;
        }

        /** The handler to put first in each of the pod's accepted connections. */
        public ChannelHandler handler() {
            return gate;
        }

        /** How many times this pod's reads have been made to wait (for tests and diagnostics). */
        public long waited() {
            return waited.get();
        }

        @Override
        public void close() {
            shares.remove(this);
        }

        @Override
        public String toString() {
            return "read share of " + pod;
        }

        /**
         * Charges every read to the share. A read the proxy asks for ({@code read()}, with auto-read
         * off) waits for its turn. What a connection reading by itself (auto-read) takes in over
         * the share is held here, in order, and passed on at the pod's next turn: the request
         * waits, not the loops (a client that waits for its answer sends nothing more meanwhile).
         * A connection holding more than {@value #MAX_HELD} messages stops reading; one holding
         * {@value #MAX_HELD_CLOSE} (a client pipelining without end) is closed.
         */
        @ChannelHandler.Sharable
        private final class Gate extends io.netty.channel.ChannelDuplexHandler {
            private final AttributeKey<Boolean> held = AttributeKey.valueOf(ReadShares.class, "held");
            private final AttributeKey<java.util.ArrayDeque<Object>> queue = AttributeKey.valueOf(ReadShares.class, "queue");

            @Override
            public void read(ChannelHandlerContext ctx) {
                if (ctx.channel().config().isAutoRead()) {
                    // Charged as the data arrives (channelRead).
                    ctx.read();
                    return;
                }
                long wait = admit(System.nanoTime());
                if (wait == 0) {
                    ctx.read();
                    return;
                }
                if (ctx.channel().attr(held).setIfAbsent(Boolean.TRUE) != null) {
                    return;
                }
                ctx.executor().schedule(() -> {
                    ctx.channel().attr(held).set(null);
                    if (ctx.channel().isActive()) {
                        read(ctx);
                    }
                }, wait, TimeUnit.NANOSECONDS);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                java.util.ArrayDeque<Object> waiting = ctx.channel().attr(queue).get();
                if (waiting != null) {
                    // Behind what is already held: order is kept.
                    hold(ctx, waiting, msg);
                    return;
                }
                if (!ctx.channel().config().isAutoRead()) {
                    // Asked for with read(): charged there.
                    ctx.fireChannelRead(msg);
                    return;
                }
                long wait = admit(System.nanoTime());
                if (wait == 0) {
                    ctx.fireChannelRead(msg);
                    return;
                }
                waiting = new java.util.ArrayDeque<>();
                ctx.channel().attr(queue).set(waiting);
                hold(ctx, waiting, msg);
                schedule(ctx, wait);
            }

            private void hold(ChannelHandlerContext ctx, java.util.ArrayDeque<Object> waiting, Object msg) {
                waiting.add(msg);
                if (waiting.size() >= MAX_HELD_CLOSE) {
                    io.netty.util.ReferenceCountUtil.release(msg);
                    waiting.removeLast();
                    log.warn("proxy: {}: a connection from {} sent {} messages beyond the pod's read share; closing it", pod, ctx.channel().remoteAddress(),
                            MAX_HELD_CLOSE);
                    release(ctx);
                    ctx.close();
                } else if (waiting.size() >= MAX_HELD) {
                    ctx.channel().config().setAutoRead(false);
                }
            }

            private void schedule(ChannelHandlerContext ctx, long wait) {
                ctx.executor().schedule(() -> {
                    java.util.ArrayDeque<Object> waiting = ctx.channel().attr(queue).get();
                    if (waiting == null) {
                        return;
                    }
                    if (!ctx.channel().isActive()) {
                        release(ctx);
                        return;
                    }
                    // One message per turn: the pod's share is read operations, and each held message was one.
                    while (!waiting.isEmpty()) {
                        long next = admit(System.nanoTime());
                        if (next > 0) {
                            schedule(ctx, next);
                            return;
                        }
                        ctx.fireChannelRead(waiting.poll());
                    }
                    ctx.channel().attr(queue).set(null);
                    ctx.fireChannelReadComplete();
                    ctx.channel().config().setAutoRead(true);
                }, wait, TimeUnit.NANOSECONDS);
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                if (ctx.channel().attr(queue).get() == null) {
                    ctx.fireChannelReadComplete();
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                release(ctx);
                ctx.fireChannelInactive();
            }

            private void release(ChannelHandlerContext ctx) {
                java.util.ArrayDeque<Object> waiting = ctx.channel().attr(queue).getAndSet(null);
                if (waiting != null) {
                    waiting.forEach(io.netty.util.ReferenceCountUtil::release);
                }
            }
        }
    }
}
