package dev.trellis.proxy.h2;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client and a server {@link H2Connection} joined by two embedded channels whose bytes the
 * test carries across: real HTTP/2 frames, no sockets, no mesh.
 */
class H2ConnectionTest {

    /** What the client's listener heard, in order. */
    private static final class Heard implements H2Stream.Listener {
        final List<String> events = new ArrayList<>();

        @Override
        public void headers(Http2Headers headers, boolean endStream) {
            events.add("headers " + (headers.status() != null ? headers.status() : headers.path()) + (endStream ? " end" : ""));
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            events.add("data " + data.readableBytes() + (endStream ? " end" : ""));
            data.release();
        }

        @Override
        public void refused() {
            events.add("refused");
        }

        @Override
        public void closed() {
            events.add("closed");
        }
    }

    private final H2Pair pair = new H2Pair(Http2Settings.defaultSettings().maxConcurrentStreams(2));
    private final EmbeddedChannel client = pair.client;
    private final EmbeddedChannel server = pair.server;

    @AfterEach
    void close() {
        pair.close();
    }

    private void exchange() {
        pair.pump();
    }

    private List<H2Pair.Accepted> serverHeard() {
        return pair.accepted();
    }

    private static Http2Headers get(String path) {
        return new DefaultHttp2Headers().method("POST").scheme("http").authority("web").path(path);
    }

    private H2Stream open(Heard heard, String path, boolean end) {
        H2Stream stream = H2Connection.of(client).open(heard);
        stream.writeHeaders(get(path), end);
        stream.flush();
        return stream;
    }

    @Test
    void aStreamCarriesHeadersAndDataBothWaysAndClosesOnceOnEachSide() {
        exchange();
        Heard clientHeard = new Heard();
        H2Stream stream = open(clientHeard, "/a", false);
        stream.writeData(Unpooled.copiedBuffer("hello", StandardCharsets.UTF_8), true);
        stream.flush();
        exchange();
        assertThat(serverHeard()).hasSize(1);
        assertThat(serverHeard().getFirst().events).containsExactly("headers /a", "data 5 end");

        H2Stream answering = serverHeard().getFirst().stream;
        answering.writeHeaders(new DefaultHttp2Headers().status("200"), false);
        answering.writeData(Unpooled.copiedBuffer("world!", StandardCharsets.UTF_8), false);
        answering.writeHeaders(new DefaultHttp2Headers().add("grpc-status", "0"), true);
        answering.flush();
        exchange();
        assertThat(clientHeard.events).containsExactly("headers 200", "data 6", "headers null end", "closed");
        assertThat(serverHeard().getFirst().events).endsWith("closed");
        assertThat(stream.isOpen()).isFalse();
        assertThat(answering.isOpen()).isFalse();
    }

    @Test
    void aPausedStreamWithholdsItsCreditUntilItReadsAgain() {
        exchange();
        Heard clientHeard = new Heard();
        H2Stream stream = open(clientHeard, "/big", false);
        exchange();
        H2Stream answering = serverHeard().getFirst().stream;
        answering.pauseReading();
        // The default window is 65,535 bytes: the client may send that much and no more.
        stream.writeData(Unpooled.wrappedBuffer(new byte[100_000]), false);
        stream.flush();
        exchange();
        assertThat(serverHeard().getFirst().dataBytes).isEqualTo(65_535);
        assertThat(stream.isWritable()).isFalse();

        answering.resumeReading();
        exchange();
        assertThat(serverHeard().getFirst().dataBytes).isEqualTo(100_000);
    }

    @Test
    void aResetReachesTheOtherSideOnceAndEndsBoth() {
        exchange();
        Heard clientHeard = new Heard();
        H2Stream stream = open(clientHeard, "/r", false);
        exchange();
        stream.reset(Http2Error.CANCEL);
        exchange();
        assertThat(clientHeard.events).containsExactly("closed");
        assertThat(serverHeard().getFirst().events).containsExactly("headers /r", "reset " + Http2Error.CANCEL.code(), "closed");
    }

    @Test
    void aGoAwayRefusesTheStreamsItDidNotTakeAndNoNewStreamGoesOut() {
        exchange();
        Heard first = new Heard();
        open(first, "/1", true);
        exchange();
        // The server goes away after the first stream; the second was sent before the client heard it.
        Heard second = new Heard();
        open(second, "/2", true);
        server.close();
        exchange();
        assertThat(serverHeard()).hasSize(1);
        assertThat(second.events).containsExactly("refused", "closed");
        assertThat(H2Connection.of(client).takesNewStreams()).isFalse();

        Heard third = new Heard();
        H2Stream late = H2Connection.of(client).open(third);
        late.writeHeaders(get("/3"), true);
        assertThat(third.events).containsExactly("refused", "closed");
        assertThat(late.isOpen()).isFalse();
    }

    @Test
    void aStreamOverTheServersLimitIsRefusedWithoutReachingIt() {
        exchange();
        open(new Heard(), "/1", false);
        open(new Heard(), "/2", false);
        exchange();
        Heard third = new Heard();
        H2Stream over = H2Connection.of(client).open(third);
        over.writeHeaders(get("/3"), false);
        exchange();
        assertThat(serverHeard()).hasSize(2);
        assertThat(third.events).containsExactly("refused", "closed");
        assertThat(over.isOpen()).isFalse();
    }

    @Test
    void aConnectionToldToStopTakesNoNewStreams() {
        exchange();
        assertThat(H2Connection.of(client).takesNewStreams()).isTrue();
        assertThat(H2Connection.of(server).takesNewStreams()).isTrue();
        H2Connection.of(client).stopNewStreams();
        assertThat(H2Connection.of(client).takesNewStreams()).isFalse();
    }

    @Test
    void aListenerThatFailsCostsItsOwnStreamAndNotTheConnection() {
        exchange();
        Heard broken = new Heard();
        H2Stream first = open(broken, "/broken", false);
        exchange();
        serverHeard().getFirst().stream.listener(new H2Stream.Listener() {
            @Override
            public void headers(Http2Headers headers, boolean endStream) {
            }

            @Override
            public void data(ByteBuf data, boolean endStream) {
                data.release();
                throw new IllegalStateException("a bug in one exchange");
            }

            @Override
            public void closed() {
            }
        });
        first.writeData(Unpooled.copiedBuffer("x", StandardCharsets.UTF_8), true);
        first.flush();
        exchange();
        assertThat(broken.events).containsExactly("closed");
        assertThat(first.isOpen()).isFalse();

        Heard fine = new Heard();
        open(fine, "/fine", true);
        exchange();
        assertThat(client.isActive()).isTrue();
        assertThat(serverHeard()).hasSize(2);
        assertThat(serverHeard().get(1).events).containsExactly("headers /fine end");
    }
}
