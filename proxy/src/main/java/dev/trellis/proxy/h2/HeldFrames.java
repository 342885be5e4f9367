package dev.trellis.proxy.h2;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.ArrayDeque;

/**
 * Holds what a stream reads while its fate is decided (resolution, policy, a connection to
 * open), then hands it, in order, to the listener that takes the stream on. The stream's credit
 * is withheld meanwhile, so what is held is at most the stream's flow-control window.
 */
public final class HeldFrames implements H2Stream.Listener {

    private final H2Stream stream;
    private final ArrayDeque<Object> events = new ArrayDeque<>(2);
    private boolean closed;

    private record Headers(Http2Headers headers, boolean endStream) {}

    private record Data(ByteBuf data, boolean endStream) {}

    private record Reset(long errorCode) {}

    private HeldFrames(H2Stream stream) {
        this.stream = stream;
    }

    /** Holds {@code stream}'s frames from now on. */
    public static HeldFrames hold(H2Stream stream) {
        HeldFrames held = new HeldFrames(stream);
        stream.pauseReading();
        stream.listener(held);
        return held;
    }

    /** Whether the stream closed (the caller left, or reset it) while held. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * {@code next} takes the stream on: it hears what was held, then what comes. The stream's
     * credit stays withheld until {@code next} resumes reading (once it can take more).
     */
    public void release(H2Stream.Listener next) {
        if (!closed) {
            stream.listener(next);
        }
        Object event;
        while ((event = events.poll()) != null) {
            switch (event) {
                case Headers h -> next.headers(h.headers(), h.endStream());
                case Data d -> next.data(d.data(), d.endStream());
                case Reset r -> next.reset(r.errorCode());
                default -> throw new IllegalStateException(String.valueOf(event));
            }
        }
        if (closed) {
            next.closed();
        }
    }

    /** Nobody takes the stream on: what was held is released. */
    public void discard() {
        Object event;
        while ((event = events.poll()) != null) {
            if (event instanceof Data d) {
                d.data().release();
            }
        }
        if (!closed) {
            stream.listener(H2Stream.DISCARD);
        }
    }

    @Override
    public void headers(Http2Headers headers, boolean endStream) {
        events.add(new Headers(headers, endStream));
    }

    @Override
    public void data(ByteBuf data, boolean endStream) {
        events.add(new Data(data, endStream));
    }

    @Override
    public void reset(long errorCode) {
        events.add(new Reset(errorCode));
    }

    @Override
    public void closed() {
        closed = true;
    }
}
