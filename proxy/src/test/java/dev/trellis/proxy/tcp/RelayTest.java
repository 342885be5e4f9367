package dev.trellis.proxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class RelayTest {

    @Test
    void bytesReadBeforeTheJoinAreDeliveredByIt() {
        EmbeddedChannel first = new EmbeddedChannel(Relay.pending());
        first.writeInbound(ascii("early "), ascii("bytes"));
        EmbeddedChannel second = new EmbeddedChannel();

        Relay.Counts counts = Relay.join(first, second);

        assertThat(readOutbound(second)).isEqualTo("early bytes");
        assertThat(counts.fromFirst()).isEqualTo(11);
    }

    @Test
    void bothSidesMayHoldBytesAndBothAreDelivered() {
        EmbeddedChannel first = new EmbeddedChannel(Relay.pending());
        EmbeddedChannel second = new EmbeddedChannel(Relay.pending());
        first.writeInbound(ascii("request"));
        second.writeInbound(ascii("220 banner"));

        Relay.join(first, second);

        assertThat(readOutbound(second)).isEqualTo("request");
        assertThat(readOutbound(first)).isEqualTo("220 banner");
    }

    @Test
    void bytesFlowBothWaysAfterTheJoinAndACloseClosesThePeer() {
        EmbeddedChannel first = new EmbeddedChannel();
        EmbeddedChannel second = new EmbeddedChannel();
        Relay.Counts counts = Relay.join(first, second);

        first.writeInbound(ascii("ping"));
        second.writeInbound(ascii("pong!"));

        assertThat(readOutbound(second)).isEqualTo("ping");
        assertThat(readOutbound(first)).isEqualTo("pong!");
        assertThat(counts.fromFirst()).isEqualTo(4);
        assertThat(counts.fromSecond()).isEqualTo(5);

        first.close();
        second.runPendingTasks();
        assertThat(second.isOpen()).isFalse();
    }

    @Test
    void aSideClosedBeforeTheJoinClosesThePeerAfterDeliveringItsBytes() {
        EmbeddedChannel first = new EmbeddedChannel(Relay.pending());
        first.writeInbound(ascii("last words"));
        first.pipeline().fireChannelInactive();
        EmbeddedChannel second = new EmbeddedChannel();

        Relay.join(first, second);
        second.runPendingTasks();

        assertThat(readOutbound(second)).isEqualTo("last words");
        assertThat(second.isOpen()).isFalse();
    }

    private static ByteBuf ascii(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
    }

    private static String readOutbound(EmbeddedChannel channel) {
        StringBuilder out = new StringBuilder();
        ByteBuf buf;
        while ((buf = channel.readOutbound()) != null) {
            out.append(buf.toString(StandardCharsets.US_ASCII));
            buf.release();
        }
        return out.toString();
    }
}
