package dev.trellis.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

class ReadSharesTest {

    @Test
    void aPodOverItsShareIsPausedOnlyWhileAnotherPodIsActive() {
        ReadShares shares = new ReadShares(10, 5);
        ReadShares.Share flooding = shares.share("shop/a");
        ReadShares.Share quiet = shares.share("shop/b");
        EmbeddedChannel a = new EmbeddedChannel(flooding.handler());
        // Alone, a pod reads as fast as it is sent to.
        for (int i = 0; i < 50; i++) {
            a.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        }
        assertThat(a.config().isAutoRead()).isTrue();
        // Another pod reads: now the first one is held to its share.
        EmbeddedChannel b = new EmbeddedChannel(quiet.handler());
        b.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        for (int i = 0; i < 10; i++) {
            a.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        }
        // Over its share, what it sends waits in order: nothing more is passed on now.
        assertThat(flooding.waited()).isPositive();
        int passed = 0;
        while (a.readInbound() != null) {
            passed++;
        }
        assertThat(passed).as("passed on at once").isLessThan(50 + 10);
        assertThat(b.config().isAutoRead()).isTrue();
        a.finishAndReleaseAll();
        b.finishAndReleaseAll();
    }
}
