package dev.trellis.proxy.outbound;

import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.h2.HeldFrames;
import dev.trellis.proxy.http.StreamRelay;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Joins a caller's HTTP/2 stream (gRPC included) to one endpoint stream after another, so that
 * a request can go again when its route's retry policy names the answer: an HTTP status in the
 * response head, or a gRPC code in a trailers-only answer or in trailers that come before any
 * response data. The request streams through as {@link dev.trellis.proxy.http.StreamRelay}
 * does, and a copy of its body is kept, at most {@value #MAX_REPLAY_BYTES} bytes: a request
 * whose body is larger, that has trailers, or that has not ended when its answer comes, is not
 * sent again. An answer's head is passed on once it is known not to be retried: a gRPC head
 * ({@code :status 200}) waits for the answer's first data or its trailers. Once anything of an
 * answer is passed on, the copy is dropped. Runs on the streams' event loop; not thread-safe.
 */
final class ReplayingRelay {

    static final int MAX_REPLAY_BYTES = 64 * 1024;

    /** What the exchange decides, and hears as {@link StreamRelay.Answers} does. */
    interface Exchange extends StreamRelay.Answers {
        /** Whether the route's retry policy names this answer: {@code grpcStatus} when the answer carries one now. */
        boolean retriesOn(int status, Optional<Integer> grpcStatus);

        /** Whether gRPC codes can make a request go again (so a gRPC head waits for what follows). */
        boolean retriesOnGrpcCodes();

        /** The answer is one to retry and the request can go again: true when another attempt was started (it will {@link #attach}). */
        boolean retry();

        /** The request ended with all of its body copied: {@code body} holds duplicates of it, the exchange's to release. */
        default void requestEnded(List<ByteBuf> body) {
            body.forEach(ByteBuf::release);
        }
    }

    private final H2Stream caller;
    private final Exchange exchange;
    private final CallerSide fromCaller = new CallerSide();
    /** The request body's copy, while the request may still go again; null once it may not. */
    private List<ByteBuf> replay = new ArrayList<>();
    private int replayBytes;
    private boolean callerEnded;
    private H2Stream answering;
    private AnswerSide fromAnswering;

    private ReplayingRelay(H2Stream caller, Exchange exchange) {
        this.caller = caller;
        this.exchange = exchange;
    }

    /**
     * Joins {@code caller} (whose frames since its first headers {@code held} holds) to
     * {@code answering}, open, whose first headers the caller wrote ({@code callerEnded}: they
     * ended the request).
     */
    static ReplayingRelay join(H2Stream caller, HeldFrames held, boolean callerEnded, H2Stream answering, Exchange exchange) {
        ReplayingRelay relay = new ReplayingRelay(caller, exchange);
        relay.callerEnded = callerEnded;
        relay.attachStream(answering);
        held.release(relay.fromCaller);
        if (callerEnded) {
            relay.ended();
        }
        if (answering.isWritable()) {
            caller.resumeReading();
        }
        caller.flush();
        answering.flush();
        return relay;
    }

    /** Whether the request could go again now: it ended, and all of its body is copied. */
    boolean replayable() {
        return callerEnded && replay != null;
    }

    /** Whether the request has no body: its next attempt's head ends the stream. */
    boolean bodyless() {
        return replay != null && replay.isEmpty();
    }

    /** Whether any of an answer was passed on (no retry is possible any more). */
    boolean answered() {
        return fromAnswering != null && fromAnswering.passedOn;
    }

    /**
     * Abandons the current attempt's stream (its events go nowhere): the exchange retries.
     * Its endpoint answered; the caller hears nothing of it.
     */
    void abandon() {
        H2Stream old = answering;
        old.listener(H2Stream.discarding());
        if (old.isOpen()) {
            old.reset(Http2Error.CANCEL);
        }
    }

    /** Another attempt's stream, open, its head written: the copy of the body goes, then the answer is relayed. */
    void attach(H2Stream next) {
        attachStream(next);
        if (replay != null && !replay.isEmpty()) {
            for (int i = 0; i < replay.size(); i++) {
                next.writeData(replay.get(i).retainedDuplicate(), i == replay.size() - 1);
            }
        }
        next.flush();
    }

    private void attachStream(H2Stream next) {
        answering = next;
        fromAnswering = new AnswerSide(next);
        next.listener(fromAnswering);
    }

    /** The request ended: the exchange hears of it, with a copy of the body while one is kept. */
    private void ended() {
        if (replay != null) {
            List<ByteBuf> copy = new ArrayList<>(replay.size());
            replay.forEach(b -> copy.add(b.retainedDuplicate()));
            exchange.requestEnded(copy);
        }
    }

    /** The request may not go again: its copy goes. */
    void dropReplay() {
        if (replay != null) {
            replay.forEach(ByteBuf::release);
            replay = null;
        }
    }

    private final class CallerSide implements H2Stream.Listener {
        private boolean ended;

        @Override
        public void headers(Http2Headers headers, boolean endStream) {
            // Request trailers are not copied: such a request is not sent again.
            dropReplay();
            ended |= endStream;
            callerEnded |= endStream;
            answering.writeHeaders(headers, endStream);
            answering.flush();
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            ended |= endStream;
            callerEnded |= endStream;
            if (replay != null) {
                if (replayBytes + data.readableBytes() <= MAX_REPLAY_BYTES) {
                    replay.add(data.retainedDuplicate());
                    replayBytes += data.readableBytes();
                } else {
                    dropReplay();
                }
            }
            answering.writeData(data, endStream);
            answering.flush();
            if (endStream) {
                ended();
            }
            if (!answering.isWritable()) {
                caller.pauseReading();
            }
        }

        @Override
        public void reset(long errorCode) {
            ended = true;
            Http2Error error = Http2Error.valueOf(errorCode);
            fromAnswering.ended = true;
            answering.reset(error == null ? Http2Error.CANCEL : error);
        }

        @Override
        public void writabilityChanged() {
            if (caller.isWritable()) {
                answering.resumeReading();
            }
        }

        @Override
        public void closed() {
            if (!ended && answering.isOpen()) {
                fromAnswering.ended = true;
                answering.reset(Http2Error.CANCEL);
            }
            dropReplay();
        }
    }

    private final class AnswerSide implements H2Stream.Listener {
        private final H2Stream self;
        private boolean ended;
        /** Anything of this answer went to the caller. */
        private boolean passedOn;
        /** A gRPC head waiting for the answer's first data or its trailers. */
        private Http2Headers heldHead;

        AnswerSide(H2Stream self) {
            this.self = self;
        }

        @Override
        public void headers(Http2Headers headers, boolean endStream) {
            CharSequence statusText = headers.status();
            if (statusText != null && statusText.length() == 3 && statusText.charAt(0) == '1') {
                passOn(headers, false);
                return;
            }
            if (!passedOn && heldHead == null && statusText != null) {
                int status = parse(statusText);
                Optional<Integer> grpc = endStream ? grpcStatus(headers) : Optional.empty();
                if (replayable() && exchange.retriesOn(status, grpc) && exchange.retry()) {
                    return;
                }
                if (!endStream && status == 200 && exchange.retriesOnGrpcCodes() && replayable() && isGrpc(headers)) {
                    heldHead = headers;
                    return;
                }
            } else if (heldHead != null && endStream) {
                // Trailers right after a held gRPC head: the call failed or ended without data.
                if (replayable() && exchange.retriesOn(200, grpcStatus(headers)) && exchange.retry()) {
                    heldHead = null;
                    return;
                }
            }
            flushHeldHead();
            passOn(headers, endStream);
        }

        private void passOn(Http2Headers headers, boolean endStream) {
            exchange.headers(headers);
            passedOn = true;
            dropReplay();
            ended |= endStream;
            caller.writeHeaders(headers, endStream);
            caller.flush();
        }

        private void flushHeldHead() {
            if (heldHead != null) {
                Http2Headers head = heldHead;
                heldHead = null;
                passOn(head, false);
            }
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            flushHeldHead();
            passedOn = true;
            ended |= endStream;
            caller.writeData(data, endStream);
            caller.flush();
            if (!caller.isWritable()) {
                self.pauseReading();
            }
        }

        @Override
        public void reset(long errorCode) {
            ended = true;
            fromCaller.ended = true;
            Http2Error error = Http2Error.valueOf(errorCode);
            caller.reset(error == null ? Http2Error.CANCEL : error);
        }

        @Override
        public void writabilityChanged() {
            if (self.isWritable()) {
                caller.resumeReading();
            }
        }

        @Override
        public void closed() {
            if (!ended && caller.isOpen()) {
                fromCaller.ended = true;
                if (heldHead != null) {
                    // The answer ended after a held head and nothing more: the caller gets the head's reset.
                    heldHead = null;
                    caller.reset(Http2Error.CANCEL);
                } else if (passedOn || !exchange.unanswered()) {
                    caller.reset(Http2Error.CANCEL);
                }
            }
            exchange.closed();
        }
    }

    private static int parse(CharSequence status) {
        try {
            return Integer.parseInt(status.toString());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static Optional<Integer> grpcStatus(Http2Headers headers) {
        CharSequence value = headers.get("grpc-status");
        if (value == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(Integer.parseInt(value.toString()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static boolean isGrpc(Http2Headers headers) {
        CharSequence type = headers.get("content-type");
        return type != null && type.toString().startsWith("application/grpc");
    }
}
