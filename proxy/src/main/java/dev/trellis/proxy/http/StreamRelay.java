package dev.trellis.proxy.http;

import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.h2.HeldFrames;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * Joins two HTTP/2 streams of two connections: headers, data and resets read on one are
 * written on the other — bodies stream through, never buffered whole. A stream that ends
 * abnormally resets its peer — unless it is the answering side and ends before any response
 * headers, when the caller may answer in its place (a 502 with the reason, as HTTP/1 gets)
 * instead of the bare reset.
 *
 * <p>Backpressure follows HTTP/2 flow control end to end: a side whose peer stream is not
 * writable has its credit withheld, which stops its sender; when the peer drains, the
 * withheld credit goes out as a WINDOW_UPDATE. Runs on the streams' event loop (one per proxy).
 */
public final class StreamRelay {

    /** What the caller learns of the answering side. */
    public interface Answers {
        /** Headers the answering side sent (its head, 1xx heads, trailers), before they are passed on. */
        default void headers(Http2Headers headers) {
        }

        /**
         * The answering side ended before any of its headers were passed on: answer in its place
         * and return true, or return false for the reset every other early end gets.
         */
        default boolean unanswered() {
            return false;
        }

        /** The answering side's stream is closed, whatever the reason. */
        default void closed() {
        }
    }

    private StreamRelay() {}

    /**
     * Joins {@code caller} (whose frames since its first headers {@code held} holds) to
     * {@code answering}, both open, whose first headers the caller wrote ({@code callerEnded}:
     * they ended the request); {@code answers} hears about the answering side.
     */
    public static void join(H2Stream caller, HeldFrames held, boolean callerEnded, H2Stream answering, Answers answers) {
        Forwarder fromAnswering = new Forwarder(answering, caller, answers);
        Forwarder fromCaller = new Forwarder(caller, answering, null);
        fromAnswering.other = fromCaller;
        fromCaller.other = fromAnswering;
        fromCaller.ended = callerEnded;
        answering.listener(fromAnswering);
        held.release(fromCaller);
        if (answering.isWritable()) {
            caller.resumeReading();
        }
        caller.flush();
        answering.flush();
    }

    private static final class Forwarder implements H2Stream.Listener {
        private final H2Stream self;
        private final H2Stream peer;
        /** Null on the caller's side. */
        private final Answers answers;
        /** The other direction's forwarder: a side this one resets must not reset this one back. */
        private Forwarder other;
        private boolean ended;
        private boolean headersForwarded;

        Forwarder(H2Stream self, H2Stream peer, Answers answers) {
            this.self = self;
            this.peer = peer;
            this.answers = answers;
        }

        @Override
        public void headers(Http2Headers headers, boolean endStream) {
            if (answers != null) {
                answers.headers(headers);
            }
            ended |= endStream;
            headersForwarded = true;
            peer.writeHeaders(headers, endStream);
            peer.flush();
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            ended |= endStream;
            peer.writeData(data, endStream);
            peer.flush();
            if (!peer.isWritable()) {
                // Backpressure: no more credit for this side until the peer drains.
                self.pauseReading();
            }
        }

        @Override
        public void reset(long errorCode) {
            ended = true;
            other.ended = true;
            Http2Error error = Http2Error.valueOf(errorCode);
            peer.reset(error == null ? Http2Error.CANCEL : error);
        }

        @Override
        public void writabilityChanged() {
            // This side drained: the peer, which writes here, gets its credit back.
            if (self.isWritable()) {
                peer.resumeReading();
            }
        }

        @Override
        public void closed() {
            if (!ended && peer.isOpen()) {
                other.ended = true;
                if (answers == null || headersForwarded || !answers.unanswered()) {
                    peer.reset(Http2Error.CANCEL);
                }
            }
            if (answers != null) {
                answers.closed();
            }
        }
    }
}
