package dev.trellis.proxy.h2;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import java.util.ArrayList;
import java.util.List;

/**
 * A client and a server {@link H2Connection} on two embedded channels whose bytes {@link #pump()}
 * carries across: real HTTP/2 frames, no sockets. The server records each stream the client
 * opens ({@link #accepted()}); a test answers on it.
 */
public final class H2Pair implements AutoCloseable {

    /** A stream the server accepted, and what it heard, in order. */
    public static final class Accepted implements H2Stream.Listener {
        public final H2Stream stream;
        public final List<String> events = new ArrayList<>();
        public final List<Http2Headers> headers = new ArrayList<>();
        public int dataBytes;
        public final StringBuilder body = new StringBuilder();

        Accepted(H2Stream stream) {
            this.stream = stream;
        }

        @Override
        public void headers(Http2Headers headers, boolean endStream) {
            this.headers.add(headers);
            events.add("headers " + (headers.status() != null ? headers.status() : headers.path()) + (endStream ? " end" : ""));
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            dataBytes += data.readableBytes();
            body.append(data.toString(java.nio.charset.StandardCharsets.UTF_8));
            events.add("data " + data.readableBytes() + (endStream ? " end" : ""));
            data.release();
        }

        @Override
        public void reset(long errorCode) {
            events.add("reset " + errorCode);
        }

        @Override
        public void closed() {
            events.add("closed");
        }
    }

    private final List<Accepted> accepted = new ArrayList<>();
    public final EmbeddedChannel server;
    public final EmbeddedChannel client;

    public H2Pair(Http2Settings serverSettings) {
        server = new EmbeddedChannel(H2Connection.server(serverSettings, (stream, headers, end) -> {
            Accepted heard = new Accepted(stream);
            heard.headers(headers, end);
            accepted.add(heard);
            stream.listener(heard);
        }).build());
        client = new EmbeddedChannel(H2Connection.client().build());
        pump();
    }

    public H2Pair() {
        this(Http2Settings.defaultSettings());
    }

    /** The streams the server accepted, in order. */
    public List<Accepted> accepted() {
        return accepted;
    }

    /** Carries the bytes each side wrote to the other, and runs each side's tasks, until neither has more. */
    public void pump() {
        boolean moved = true;
        while (moved) {
            moved = carry(client, server) | carry(server, client);
        }
    }

    private static boolean carry(EmbeddedChannel from, EmbeddedChannel to) {
        from.runPendingTasks();
        boolean moved = false;
        Object out;
        while ((out = from.readOutbound()) != null) {
            if (to.isOpen()) {
                to.writeInbound(out);
            } else {
                io.netty.util.ReferenceCountUtil.release(out);
            }
            moved = true;
        }
        to.runPendingTasks();
        return moved;
    }

    @Override
    public void close() {
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }
}
