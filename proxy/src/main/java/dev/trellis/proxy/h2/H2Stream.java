package dev.trellis.proxy.h2;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Stream;

/**
 * One stream of an {@link H2Connection}: what it reads goes to its {@link Listener}, what is
 * written to it goes out as frames of that stream. Not a channel: every method is called on
 * the connection's event loop ({@link #eventLoop()}), and so is every listener method.
 *
 * <p>Flow control: while the stream reads (the default), each DATA frame's bytes are returned
 * to the peer as soon as the listener has taken them; after {@link #pauseReading()} frames are
 * still delivered (at most the stream's window, which the peer may not exceed), but their
 * credit is withheld until {@link #resumeReading()} — so a slow receiver on the other side of
 * the proxy slows the sender, as with a socket.
 */
public final class H2Stream {

    /** What happens on a stream, in order: headers and data until the end, a reset, then {@link #closed}. */
    public interface Listener {
        /** Headers (the first are the request or response head, later ones trailers or 1xx answers). */
        void headers(Http2Headers headers, boolean endStream);

        /** A DATA frame; {@code data} is the listener's to release. */
        void data(ByteBuf data, boolean endStream);

        /** The peer reset the stream ({@link #closed} follows). */
        default void reset(long errorCode) {
        }

        /** The peer's GOAWAY named an earlier last stream: it never processed this one ({@link #closed} follows). */
        default void refused() {
        }

        /** {@link #isWritable()} changed. */
        default void writabilityChanged() {
        }

        /** The stream is closed, whatever the reason (both ends, a reset, the connection gone). Called once. */
        void closed();
    }

    /** A listener that drops everything: a stream nobody wants any more. */
    static final Listener DISCARD = new Listener() {
        @Override
        public void headers(Http2Headers headers, boolean endStream) {
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            data.release();
        }

        @Override
        public void closed() {
        }
    };

    /** A listener that drops what the stream reads (until another is set). */
    public static Listener discarding() {
        return DISCARD;
    }

    private final H2Connection connection;
    private Listener listener;
    /** The codec's stream, once it exists (a stream this side opens exists once its first headers are written). */
    private Http2Stream stream;
    private int id = -1;
    private boolean reading = true;
    private int withheld;
    private boolean closed;

    H2Stream(H2Connection connection, Listener listener) {
        this.connection = connection;
        this.listener = listener;
    }

    void bind(Http2Stream stream) {
        this.stream = stream;
        this.id = stream.id();
        stream.setProperty(connection.streamKey(), this);
    }

    Listener listener() {
        return listener;
    }

    /** From now on {@code listener} hears what the stream reads. */
    public void listener(Listener listener) {
        this.listener = listener;
    }

    /** The stream's id; -1 before its first headers went out. */
    public int id() {
        return id;
    }

    /** The connection's channel: its addresses, its attributes, its event loop. */
    public Channel connection() {
        return connection.channel();
    }

    public EventLoop eventLoop() {
        return connection.channel().eventLoop();
    }

    /** Neither closed nor reset, and the connection is open. */
    public boolean isOpen() {
        return !closed && connection.channel().isActive();
    }

    /** The peer's flow-control window has room and the connection's socket takes more. */
    public boolean isWritable() {
        return isOpen() && stream != null && connection.isWritable(stream);
    }

    /** Writes headers (the first open a stream this side started); flushed by {@link #flush()}. */
    public ChannelFuture writeHeaders(Http2Headers headers, boolean endStream) {
        return connection.writeHeaders(this, headers, endStream);
    }

    /** Writes {@code data} (whose release this takes over); flushed by {@link #flush()}. */
    public ChannelFuture writeData(ByteBuf data, boolean endStream) {
        if (!isOpen() || stream == null) {
            data.release();
            return connection.channel().newFailedFuture(new IllegalStateException("stream " + id + " is closed"));
        }
        return connection.writeData(this, data, endStream);
    }

    /** Resets the stream with {@code error} (once, and only while it is open) and writes the reset out. */
    public void reset(Http2Error error) {
        if (isOpen() && stream != null) {
            connection.reset(this, error);
        }
        closed();
    }

    /** Ends the stream from this side without a word: a reset with CANCEL when it is open. */
    public void close() {
        reset(Http2Error.CANCEL);
    }

    /** Writes what was written to this stream's connection (several streams' writes go out together). */
    public void flush() {
        connection.flush();
    }

    /** Withholds the credit of what is read from now on, until {@link #resumeReading()}. */
    public void pauseReading() {
        reading = false;
    }

    /** Returns the credit withheld since {@link #pauseReading()} to the peer, and flushes it. */
    public void resumeReading() {
        if (reading) {
            return;
        }
        reading = true;
        if (withheld > 0 && !closed && stream != null) {
            int bytes = withheld;
            withheld = 0;
            connection.returnCredit(stream, bytes);
        }
    }

    /** Whether credit is returned as data is read. */
    public boolean reading() {
        return reading;
    }

    Http2Stream codecStream() {
        return stream;
    }

    /** A DATA frame of {@code bytes} flow-controlled bytes was delivered: how many to return to the peer now. */
    int delivered(int bytes) {
        if (reading || closed) {
            return bytes;
        }
        withheld += bytes;
        return 0;
    }

    /** The codec closed the stream: the listener hears it once. */
    void closed() {
        if (closed) {
            return;
        }
        closed = true;
        withheld = 0;
        Listener last = listener;
        listener = DISCARD;
        last.closed();
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "stream " + id + " of " + connection.channel();
    }

    static boolean streamError(Throwable cause) {
        return cause instanceof Http2Exception.StreamException;
    }
}
