package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/2 request-head deadline on its own, on an embedded channel with its clock advanced
 * by hand: it reads frame headers across any split of the bytes, a header block that ends
 * (END_HEADERS, on HEADERS or a CONTINUATION) stops it, one left open — however it trickles —
 * expires it, and every byte passes on unchanged.
 */
class H2HeaderDeadlineTest {

    private static final Duration DEADLINE = Duration.ofSeconds(2);
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] SETTINGS = frame(0x4, 0, 0, new byte[0]);

    private final List<String> expired = new ArrayList<>();

    private EmbeddedChannel channel() {
        return new EmbeddedChannel(new H2HeaderDeadline(DEADLINE, dev.trellis.proxy.transport.Deadlines::new, true, expired::add));
    }

    private static byte[] frame(int type, int flags, int stream, byte[] payload) {
        ByteBuf out = Unpooled.buffer();
        out.writeMedium(payload.length).writeByte(type).writeByte(flags).writeInt(stream).writeBytes(payload);
        byte[] bytes = new byte[out.readableBytes()];
        out.readBytes(bytes);
        return bytes;
    }

    /** Writes {@code bytes} in pieces of {@code piece}, checking each passes on unchanged. */
    private static void send(EmbeddedChannel channel, byte[] bytes, int piece) {
        for (int at = 0; at < bytes.length; at += piece) {
            int length = Math.min(piece, bytes.length - at);
            channel.writeInbound(Unpooled.wrappedBuffer(bytes, at, length));
            ByteBuf passed = channel.readInbound();
            assertThat(passed.readableBytes()).isEqualTo(length);
            passed.release();
        }
    }

    private static void advance(EmbeddedChannel channel, Duration by) {
        channel.advanceTimeBy(by.toMillis(), TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
    }

    @Test
    void aClientThatSendsItsPrefaceAndSettingsAndWholeHeadersIsNeverCut() {
        EmbeddedChannel channel = channel();
        send(channel, PREFACE, 5);
        send(channel, SETTINGS, 1);
        advance(channel, DEADLINE.plusSeconds(1));
        // A header block in two frames, split at odd places; then an idle connection.
        send(channel, frame(0x1, 0, 1, new byte[] {(byte) 0x82, (byte) 0x86}), 3);
        advance(channel, DEADLINE.minusMillis(500));
        send(channel, frame(0x9, 0x4, 1, new byte[] {(byte) 0x84}), 4);
        advance(channel, DEADLINE.multipliedBy(5));
        assertThat(expired).isEmpty();
        assertThat(channel.isActive()).isTrue();
    }

    @Test
    void aHeaderBlockLeftOpenExpiresHoweverItTrickles() {
        EmbeddedChannel channel = channel();
        send(channel, PREFACE, 24);
        send(channel, SETTINGS, 9);
        // HEADERS announcing 20 bytes of block, a byte every 190 ms: the deadline counts from its first byte, not the last.
        byte[] headers = frame(0x1, 0x4, 1, new byte[20]);
        int sent = 0;
        while (channel.isActive() && sent < headers.length) {
            send(channel, new byte[] {headers[sent++]}, 1);
            advance(channel, Duration.ofMillis(190));
        }
        assertThat(sent).as("bytes sent before the cut").isEqualTo(11);
        assertThat(expired).singleElement().asString().isEqualTo("request headers not complete within PT2S");
        Object goAway = channel.readOutbound();
        assertThat(goAway).isInstanceOf(Http2GoAwayFrame.class);
        ((Http2GoAwayFrame) goAway).release();
    }

    @Test
    void aClientThatNeverSendsItsSettingsExpires() {
        EmbeddedChannel channel = channel();
        send(channel, PREFACE, 24);
        send(channel, new byte[] {0, 0}, 2);
        advance(channel, DEADLINE.plusMillis(1));
        assertThat(expired).containsExactly("the client's SETTINGS not complete within PT2S");
    }

    @Test
    void aHeadersFrameWithEndHeadersStopsTheClockAndDataFramesDoNotStartIt() {
        EmbeddedChannel channel = channel();
        send(channel, PREFACE, 24);
        send(channel, SETTINGS, 9);
        send(channel, frame(0x1, 0x4 | 0x1, 1, new byte[] {(byte) 0x82}), 10);
        send(channel, frame(0x0, 0, 3, new byte[100]), 7);
        advance(channel, DEADLINE.multipliedBy(3));
        assertThat(expired).isEmpty();
    }
}
