package dev.trellis.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;

/**
 * The HTTP/2 request-head deadline on bytes from the network: whatever the frames claim (any
 * length, type, flags), in any split into reads, it throws nothing, passes every byte on in
 * order and untouched, and holds none.
 */
class H2HeaderDeadlineFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void passesEveryByteOnAndThrowsNothing(byte[] input) {
        int split = input.length == 0 ? 0 : (input[0] & 0xff) % (input.length + 1);
        EmbeddedChannel channel = new EmbeddedChannel(new H2HeaderDeadline(Duration.ofSeconds(10), dev.trellis.proxy.transport.Deadlines::new, (input.length & 1) == 0, why -> { }));
        channel.writeInbound(Unpooled.wrappedBuffer(input, 0, split));
        channel.writeInbound(Unpooled.wrappedBuffer(input, split, input.length - split));
        ByteBuf passed = Unpooled.buffer();
        for (Object next; (next = channel.readInbound()) != null; ) {
            passed.writeBytes((ByteBuf) next);
            ((ByteBuf) next).release();
        }
        assertThat(passed).isEqualTo(Unpooled.wrappedBuffer(input));
        passed.release();
        channel.finishAndReleaseAll();
    }
}
