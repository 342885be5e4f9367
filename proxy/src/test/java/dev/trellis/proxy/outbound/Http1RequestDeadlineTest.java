package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.http.MeshHeaders;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The request-head deadline on its own, on an embedded channel with its clock advanced by
 * hand: bytes that trickle in do not extend it, a whole head stops it, and after an answer
 * the clock waits for the next request's first byte.
 */
class Http1RequestDeadlineTest {

    private static final Duration DEADLINE = Duration.ofSeconds(2);

    private final List<String> refusals = new ArrayList<>();

    private EmbeddedChannel channel() {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.pipeline().addLast(new Http1RequestDeadline(DEADLINE, dev.trellis.proxy.transport.Deadlines::new, why -> refusals.add(why.error().label() + ": " + why.getMessage())));
        return channel;
    }

    private static void send(EmbeddedChannel channel, String text) {
        channel.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
        ByteBuf passed = channel.readInbound();
        assertThat(passed.toString(StandardCharsets.US_ASCII)).as("bytes pass on unchanged").isEqualTo(text);
        passed.release();
    }

    private static void advance(EmbeddedChannel channel, Duration by) {
        channel.advanceTimeBy(by.toMillis(), TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
    }

    private static String written(EmbeddedChannel channel) {
        ByteBuf out = channel.readOutbound();
        if (out == null) {
            return "";
        }
        try {
            return out.toString(StandardCharsets.US_ASCII);
        } finally {
            out.release();
        }
    }

    /** A connection whose first request was read whole and is being answered. */
    private EmbeddedChannel answeringAWholeRequest() {
        EmbeddedChannel channel = channel();
        send(channel, "GET / HTTP/1.1\r\n\r\n");
        Http1RequestDeadline.headComplete(channel.pipeline().firstContext());
        Http1RequestDeadline.requestRead(channel.pipeline().firstContext());
        return channel;
    }

    @Test
    void aTrickledHeadIsAnswered408AtTheDeadlineCountedFromTheStartNotFromTheLastByte() {
        EmbeddedChannel channel = channel();
        send(channel, "GET / HTTP/1.1\r\nX-Slow: ");
        for (int i = 0; i < 7; i++) {
            advance(channel, Duration.ofMillis(250));
            send(channel, "x");
        }
        assertThat(channel.isOpen()).as("open 1.75 s in").isTrue();
        advance(channel, Duration.ofMillis(300));

        assertThat(written(channel)).startsWith("HTTP/1.1 408 ").contains(MeshHeaders.PROXY_ERROR + ": " + ProxyError.HEADER_TIMEOUT.text())
                .contains("connection: close");
        assertThat(channel.isOpen()).isFalse();
        assertThat(refusals).containsExactly("header_timeout: no complete request within PT2S");
    }

    @Test
    void aWholeHeadStopsTheClockAndAnAnswerRestartsItAtTheNextRequestsFirstByte() {
        EmbeddedChannel channel = channel();
        send(channel, "GET / HTTP/1.1\r\n\r\n");
        Http1RequestDeadline.headComplete(channel.pipeline().firstContext());
        advance(channel, Duration.ofSeconds(10));
        assertThat(channel.isOpen()).as("a request being served has no head deadline").isTrue();

        Http1RequestDeadline.answered(channel.pipeline().firstContext());
        advance(channel, Duration.ofSeconds(60));
        assertThat(channel.isOpen()).as("an idle kept-alive connection is not cut by the head deadline").isTrue();

        send(channel, "GET /next HTTP/1.1\r\n");
        advance(channel, Duration.ofMillis(1900));
        assertThat(channel.isOpen()).isTrue();
        advance(channel, Duration.ofMillis(200));
        assertThat(written(channel)).startsWith("HTTP/1.1 408 ");
        assertThat(channel.isOpen()).isFalse();
        assertThat(refusals).hasSize(1);
    }

    @Test
    void theNextRequestsFirstByteDuringAnAnswerStartsItsClockAndA408DueThenWaitsForTheAnswerToBeOut() {
        EmbeddedChannel channel = answeringAWholeRequest();
        advance(channel, Duration.ofSeconds(5));
        // The connection reads on while the answer goes out: the next head starts to trickle in.
        send(channel, "GET /next HTTP/1.1\r\nX-Slow: ");
        advance(channel, Duration.ofMillis(2100));
        assertThat(written(channel)).as("no 408 in the middle of an answer").isEmpty();
        assertThat(channel.isOpen()).isTrue();

        Http1RequestDeadline.answered(channel.pipeline().firstContext());
        assertThat(written(channel)).as("the 408 that fell due, once the answer is out").startsWith("HTTP/1.1 408 ");
        assertThat(channel.isOpen()).isFalse();
        assertThat(refusals).containsExactly("header_timeout: no complete request within PT2S");
    }

    @Test
    void theNextRequestsClockRunsOnFromItsFirstByteAfterTheAnswerIsOut() {
        EmbeddedChannel channel = answeringAWholeRequest();
        send(channel, "GET /next HTTP/1.1\r\n");
        advance(channel, Duration.ofMillis(1500));
        Http1RequestDeadline.answered(channel.pipeline().firstContext());
        send(channel, "X-Slow: x");
        advance(channel, Duration.ofMillis(400));
        assertThat(channel.isOpen()).as("1.9 s after its first byte").isTrue();
        advance(channel, Duration.ofMillis(200));
        assertThat(written(channel)).as("counted from the first byte, not restarted by the answer").startsWith("HTTP/1.1 408 ");
        assertThat(channel.isOpen()).isFalse();
    }

    @Test
    void aPipelinedHeadThatIsWholeStopsTheClockWhileItWaits() {
        EmbeddedChannel channel = answeringAWholeRequest();
        send(channel, "GET /next HTTP/1.1\r\n\r\n");
        Http1RequestDeadline.headComplete(channel.pipeline().firstContext());
        advance(channel, Duration.ofSeconds(10));
        Http1RequestDeadline.answered(channel.pipeline().firstContext());
        Http1RequestDeadline.headComplete(channel.pipeline().firstContext());
        advance(channel, Duration.ofSeconds(10));
        assertThat(channel.isOpen()).as("a whole request waiting its turn has no head deadline").isTrue();
        assertThat(refusals).isEmpty();
    }

    @Test
    void aConnectionThatSaysNothingIsCutAtTheDeadlineToo() {
        EmbeddedChannel channel = channel();
        advance(channel, Duration.ofMillis(2001));
        assertThat(written(channel)).startsWith("HTTP/1.1 408 ");
        assertThat(channel.isOpen()).isFalse();
    }
}
