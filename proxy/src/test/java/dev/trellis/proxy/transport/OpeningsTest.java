package dev.trellis.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.junit.jupiter.api.Test;

/**
 * The per-source bound on connections still opening, on its own: a source at its limit
 * displaces its own oldest opening connection, never another source's; a connection that is
 * open for business or closed stops counting.
 */
class OpeningsTest {

    private static final InetAddress ATTACKER = InetAddress.getLoopbackAddress();
    private static final InetAddress NEIGHBOUR;

    static {
        try {
            NEIGHBOUR = InetAddress.getByName("127.0.0.2");
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static EmbeddedChannel from(InetAddress source) {
        return new EmbeddedChannel() {
            @Override
            protected SocketAddress remoteAddress0() {
                return new InetSocketAddress(source, 40000);
            }
        };
    }

    @Test
    void aSourceAtItsLimitDisplacesItsOwnOldestOpeningConnection() {
        Openings openings = new Openings(2);
        EmbeddedChannel neighbour = from(NEIGHBOUR);
        EmbeddedChannel first = from(ATTACKER);
        EmbeddedChannel second = from(ATTACKER);
        assertThat(openings.admit(neighbour)).isEmpty();
        assertThat(openings.admit(first)).isEmpty();
        assertThat(openings.admit(second)).isEmpty();

        EmbeddedChannel third = from(ATTACKER);
        assertThat(openings.admit(third)).map(Channel.class::cast).contains(first);
        assertThat(openings.opening(ATTACKER)).isEqualTo(2);
        assertThat(openings.opening(NEIGHBOUR)).as("another source's connection is never displaced").isEqualTo(1);
        assertThat(openings.evicted()).isEqualTo(1);

        // The displaced one no longer counts even though its closing is the caller's job.
        first.close();
        assertThat(openings.opening(ATTACKER)).isEqualTo(2);
    }

    @Test
    void aConnectionOpenForBusinessOrClosedStopsCounting() {
        Openings openings = new Openings(2);
        EmbeddedChannel served = from(ATTACKER);
        EmbeddedChannel dropped = from(ATTACKER);
        openings.admit(served);
        openings.admit(dropped);

        Openings.settle(served);
        Openings.settle(served);
        assertThat(openings.opening(ATTACKER)).as("settling twice counts once").isEqualTo(1);
        dropped.close();
        assertThat(openings.opening(ATTACKER)).isZero();

        assertThat(openings.admit(from(ATTACKER))).isEmpty();
        assertThat(openings.admit(from(ATTACKER))).as("room for two again").isEmpty();
    }

    @Test
    void aLimitBelowOneIsRefused() {
        assertThatThrownBy(() -> new Openings(0)).hasMessageContaining("at most 0 opening connections per source");
    }
}
