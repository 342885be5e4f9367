package dev.trellis.proxy.detect;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Optional;

/**
 * Protocol detection on a connection's first bytes, TLS ClientHello and SNI parsing included:
 * for any bytes it decides or asks for more, never throws, never consumes a byte, asks for more
 * only while under its bounds, and a decision stays the same when more bytes follow.
 */
class ProtocolDetectionFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void decidesWithoutThrowingOrConsuming(byte[] input) {
        ByteBuf in = Unpooled.wrappedBuffer(input);
        Optional<Detection> detection = ProtocolDetector.look(in);
        assertThat(in.readerIndex()).as("detection never consumes").isZero();
        if (detection.isEmpty()) {
            assertThat(input.length).as("asks for more only below one record or request line").isLessThanOrEqualTo(Math.max(ProtocolDetector.MAX_HTTP1_LINE, ClientHelloParser.MAX_RECORD + 5));
            return;
        }
        detection.get().sni().ifPresent(sni -> assertThat(sni).as("an SNI is a printable host name").matches("[\\x21-\\x7e]{1,255}"));
        ByteBuf more = Unpooled.wrappedBuffer(input, Unpooled.wrappedBuffer(new byte[] {'\r', '\n', 0x16, 3, 1}).array());
        assertThat(ProtocolDetector.look(more).map(Detection::protocol)).as("more bytes do not change a decision").contains(detection.get().protocol());
    }
}
