package dev.trellis.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;

/**
 * The transport header decoder on bytes from the network: for any input, in any split into
 * reads, it emits at most one header that re-encodes to the bytes it came from, passes the
 * rest on untouched, or refuses with a {@link DecoderException} — nothing else.
 */
class TransportHeaderFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void decodesOrRefusesWithoutAnythingElse(byte[] input) {
        int split = input.length == 0 ? 0 : (input[0] & 0xff) % (input.length + 1);
        EmbeddedChannel channel = new EmbeddedChannel(new TransportHeaderDecoder());
        try {
            channel.writeInbound(Unpooled.wrappedBuffer(input, 0, split));
            channel.writeInbound(Unpooled.wrappedBuffer(input, split, input.length - split));
        } catch (DecoderException refused) {
            // Refused, with a reason: the owner closes the connection (a decoder that failed may fail again on close).
            try {
                channel.finishAndReleaseAll();
            } catch (DecoderException again) {
                // the same refusal
            }
            return;
        }
        Object first = channel.readInbound();
        if (first instanceof TransportHeader header) {
            ByteBuf encoded = header.encode(channel.alloc());
            int length = encoded.readableBytes();
            assertThat(encoded).isEqualTo(Unpooled.wrappedBuffer(input, 0, length));
            encoded.release();
            int rest = 0;
            for (Object next; (next = channel.readInbound()) != null; ) {
                rest += ((ByteBuf) next).readableBytes();
                ((ByteBuf) next).release();
            }
            assertThat(rest).as("bytes after the header pass on untouched").isEqualTo(input.length - length);
        } else if (first != null) {
            ((ByteBuf) first).release();
        }
        channel.finishAndReleaseAll();
    }
}
