package dev.trellis.proxy.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Joins two connections: what one reads, the other writes. Reading pauses on a side whose
 * peer cannot keep up (its outbound buffer is over the high-water mark) and resumes when
 * it drains, so a fast sender never fills the proxy's memory. When one side ends what it
 * sends (a FIN: the connection is half-closed), the other side gets every byte before it and
 * then a FIN of its own, and what comes back still flows; once both directions have ended,
 * both connections close. When either side closes outright (or resets), what is pending is
 * flushed to the other, which then closes too.
 *
 * <p>Across the mTLS hop an end travels as a TCP FIN after the last TLS record, not as a TLS
 * close_notify: the OpenSSL engine closes both directions on a close_notify it receives, so
 * close_notify can only end a connection whole. A FIN forged on the path ends the input the
 * app sees, as it did when a FIN closed the connection.
 *
 * <p>Either side may have read before the other is connected (bytes the detector buffered,
 * a server's banner that arrived with the end of the TLS handshake): {@link #pending} holds
 * them, bounded by what that side's pipeline had already read, until {@link #join} writes
 * them through.
 */
public final class Relay {

    /** Bytes moved each way, for metrics and the connection log. */
    public static final class Counts {
        private final AtomicLong fromFirst = new AtomicLong();
        private final AtomicLong fromSecond = new AtomicLong();

        public long fromFirst() {
            return fromFirst.get();
        }

        public long fromSecond() {
            return fromSecond.get();
        }
    }

    private Relay() {}

    /**
     * A handler that queues what its side reads until {@link #join}; add it last in the
     * pipeline of a side that may read before the other is connected (bytes a detector or a
     * TLS handshake already decoded), with auto-read off.
     */
    public static ChannelInboundHandlerAdapter pending() {
        return new Pending();
    }

    /**
     * Joins {@code first} and {@code second}, both active, either of which may hold a
     * {@link #pending} handler; turns reading on for both.
     */
    public static Counts join(Channel first, Channel second) {
        Counts counts = new Counts();
        Ends ends = new Ends(first, second);
        Forwarder toSecond = new Forwarder(second, counts.fromFirst, ends);
        Forwarder toFirst = new Forwarder(first, counts.fromSecond, ends);
        first.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        second.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        install(first, toSecond, second, ends);
        install(second, toFirst, first, ends);
        first.config().setAutoRead(true);
        second.config().setAutoRead(true);
        first.read();
        second.read();
        return counts;
    }

    /**
     * Removes {@code channel}'s {@link #pending} handler and sends what it held through the
     * pipeline from the start, to handlers installed since (an HTTP codec, say).
     */
    public static void replay(Channel channel) {
        Pending pending = channel.pipeline().get(Pending.class);
        if (pending == null) {
            return;
        }
        ArrayDeque<Object> held = pending.takeAll();
        channel.pipeline().remove(pending);
        Object msg;
        while ((msg = held.poll()) != null) {
            channel.pipeline().fireChannelRead(msg);
        }
        channel.pipeline().fireChannelReadComplete();
        if (pending.inputEnded) {
            channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
    }

    /**
     * Replaces {@code channel}'s {@link #pending} handler with {@code replacement} and returns
     * what it held, in order (empty when there is none). Taken before it leaves the pipeline:
     * removal releases leftovers.
     */
    public static ArrayDeque<Object> takePending(Channel channel, io.netty.channel.ChannelHandler replacement) {
        Pending pending = channel.pipeline().get(Pending.class);
        if (pending == null) {
            channel.pipeline().addLast("relay", replacement);
            return new ArrayDeque<>();
        }
        ArrayDeque<Object> held = pending.takeAll();
        channel.pipeline().replace(pending, "relay", replacement);
        return held;
    }

    /**
     * The first {@code max} bytes {@code channel}'s {@link #pending} handler holds, as
     * ISO-8859-1 text, without taking them (empty when nothing is held). Event loop only.
     */
    public static String peekPending(Channel channel, int max) {
        Pending pending = channel.pipeline().get(Pending.class);
        if (pending == null) {
            return "";
        }
        StringBuilder out = new StringBuilder();
        for (Object msg : pending.queue) {
            if (msg instanceof io.netty.buffer.ByteBuf buf) {
                int take = Math.min(buf.readableBytes(), max - out.length());
                out.append(buf.toString(buf.readerIndex(), take, java.nio.charset.StandardCharsets.ISO_8859_1));
                if (out.length() >= max) {
                    break;
                }
            }
        }
        return out.toString();
    }

    private static void install(Channel side, Forwarder forwarder, Channel peer, Ends ends) {
        Pending pending = side.pipeline().get(Pending.class);
        if (pending != null) {
            boolean closed = pending.closed;
            boolean inputEnded = pending.inputEnded;
            ArrayDeque<Object> held = takePending(side, forwarder);
            Object msg;
            while ((msg = held.poll()) != null) {
                forwarder.forward(msg);
            }
            peer.flush();
            if (closed) {
                peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            } else if (inputEnded) {
                ends.ended(peer);
            }
        } else {
            side.pipeline().addLast("relay", forwarder);
        }
    }

    private static final class Pending extends ChannelInboundHandlerAdapter {
        private final ArrayDeque<Object> queue = new ArrayDeque<>();
        private boolean closed;
        private boolean inputEnded;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            queue.add(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                inputEnded = true;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closed = true;
            ctx.fireChannelInactive();
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            // Anything not drained is released.
            Object msg;
            while ((msg = queue.poll()) != null) {
                ReferenceCountUtil.release(msg);
            }
        }

        ArrayDeque<Object> takeAll() {
            ArrayDeque<Object> all = new ArrayDeque<>(queue);
            queue.clear();
            return all;
        }
    }

    /**
     * The two directions of a joined pair: an ended one is passed on as a FIN to the side it
     * flowed to, and when both have ended both connections close. Event loop only (both sides
     * of a relay share one).
     */
    private static final class Ends {
        private final Channel first;
        private final Channel second;
        private int ended;

        Ends(Channel first, Channel second) {
            this.first = first;
            this.second = second;
        }

        /**
         * What flowed to {@code to} has ended: after every byte already given to it, {@code to}
         * sends a FIN. The empty write goes in at the pipeline's head, behind what a TLS handler
         * has already encrypted and flushed, so the FIN cannot overtake a record.
         */
        void ended(Channel to) {
            if (!(to instanceof DuplexChannel duplex) || !to.isActive()) {
                closeBoth();
                return;
            }
            if (duplex.isOutputShutdown()) {
                return;
            }
            to.flush();
            ChannelHandlerContext first = to.pipeline().firstContext();
            (first == null ? to.writeAndFlush(Unpooled.EMPTY_BUFFER) : first.writeAndFlush(Unpooled.EMPTY_BUFFER)).addListener(written -> {
                if (!written.isSuccess()) {
                    closeBoth();
                    return;
                }
                duplex.shutdownOutput().addListener(shut -> {
                    if (!shut.isSuccess() || ++ended == 2) {
                        closeBoth();
                    }
                });
            });
        }

        private void closeBoth() {
            first.close();
            second.close();
        }
    }

    private static final class Forwarder extends ChannelInboundHandlerAdapter {
        private final Channel peer;
        private final AtomicLong counter;
        private final Ends ends;

        Forwarder(Channel peer, AtomicLong counter, Ends ends) {
            this.peer = peer;
            this.counter = counter;
            this.ends = ends;
        }

        void forward(Object msg) {
            if (msg instanceof ByteBuf buf) {
                counter.addAndGet(buf.readableBytes());
            }
            peer.write(msg);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!peer.isActive()) {
                ReferenceCountUtil.release(msg);
                return;
            }
            forward(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            peer.flush();
            if (!peer.isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            // Our own channel drained: let the peer read again.
            if (ctx.channel().isWritable()) {
                peer.config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                ends.ended(peer);
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (peer.isActive()) {
                peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
