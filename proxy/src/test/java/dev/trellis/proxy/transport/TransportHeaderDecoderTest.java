package dev.trellis.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TransportHeaderDecoderTest {

    @Test
    void decodesTheHeaderAndPassesTheRestThrough() {
        EmbeddedChannel channel = new EmbeddedChannel(new TransportHeaderDecoder());
        ByteBuf wire = new TransportHeader(8080, "web.emojivoto.svc.cluster.local:80").encode(ByteBufAllocator.DEFAULT);
        wire.writeBytes("hello".getBytes(StandardCharsets.US_ASCII));

        channel.writeInbound(wire);

        assertThat((Object) channel.readInbound()).isEqualTo(new TransportHeader(8080, "web.emojivoto.svc.cluster.local:80"));
        ByteBuf rest = channel.readInbound();
        assertThat(rest.toString(StandardCharsets.US_ASCII)).isEqualTo("hello");
        rest.release();
        assertThat(channel.pipeline().get(TransportHeaderDecoder.class)).isNull();
    }

    @Test
    void waitsForAHeaderThatArrivesByteByByte() {
        EmbeddedChannel channel = new EmbeddedChannel(new TransportHeaderDecoder());
        ByteBuf wire = new TransportHeader(5432, "db:5432").encode(ByteBufAllocator.DEFAULT);
        while (wire.isReadable()) {
            assertThat((Object) channel.readInbound()).isNull();
            channel.writeInbound(wire.readRetainedSlice(1));
        }
        wire.release();
        assertThat((Object) channel.readInbound()).isEqualTo(new TransportHeader(5432, "db:5432"));
    }

    @Test
    void refusesBadMagicAtTheFirstWrongByte() {
        EmbeddedChannel channel = new EmbeddedChannel(new TransportHeaderDecoder());
        assertThatThrownBy(() -> channel.writeInbound(Unpooled.copiedBuffer("GET / HTTP/1.1\r\n", StandardCharsets.US_ASCII)))
                .isInstanceOf(CorruptedFrameException.class)
                .hasMessageContaining("bad magic");
    }

    @Test
    void refusesPortZeroAndNonPrintableNames() {
        EmbeddedChannel zero = new EmbeddedChannel(new TransportHeaderDecoder());
        assertThatThrownBy(() -> zero.writeInbound(Unpooled.wrappedBuffer(new byte[] {'T', 'R', 'L', '1', 0, 0, 0})))
                .hasMessageContaining("port 0");
        EmbeddedChannel control = new EmbeddedChannel(new TransportHeaderDecoder());
        assertThatThrownBy(() -> control.writeInbound(Unpooled.wrappedBuffer(new byte[] {'T', 'R', 'L', '1', 0, 80, 2, 'a', '\n'})))
                .hasMessageContaining("outside printable ASCII");
    }

    @Test
    void refusesOverlongNames() {
        EmbeddedChannel channel = new EmbeddedChannel(new TransportHeaderDecoder());
        assertThatThrownBy(() -> channel.writeInbound(Unpooled.wrappedBuffer(new byte[] {'T', 'R', 'L', '1', 0, 80, (byte) 254})))
                .hasMessageContaining("name length 254 over 253");
        assertThatThrownBy(() -> new TransportHeader(80, "a".repeat(254))).hasMessageContaining("longer than 253");
    }
}
