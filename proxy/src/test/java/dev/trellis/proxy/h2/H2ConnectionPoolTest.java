package dev.trellis.proxy.h2;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.util.concurrent.Future;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The pool's choices, over real HTTP/2 connections on embedded channels whose servers take one stream each. */
class H2ConnectionPoolTest {

    private final List<H2Pair> made = new ArrayList<>();
    private final H2ConnectionPool<String> pool = new H2ConnectionPool<>((key, loop) -> {
        H2Pair pair = new H2Pair(Http2Settings.defaultSettings().maxConcurrentStreams(1));
        made.add(pair);
        return pair.client.eventLoop().newSucceededFuture(pair.client);
    });

    @AfterEach
    void close() {
        pool.close();
        made.forEach(H2Pair::close);
    }

    private static void openStreamOn(Future<Channel> connection) {
        H2Stream stream = H2Connection.of(connection.getNow()).open(H2Stream.discarding());
        stream.writeHeaders(new DefaultHttp2Headers().method("GET").scheme("http").authority("app").path("/"), false);
        stream.flush();
    }

    private void pumpAll() {
        made.forEach(H2Pair::pump);
    }

    @Test
    void aConnectionIsReusedWhileItTakesStreamsAndGetsCompanyAtItsPeersLimit() {
        Future<Channel> first = pool.connection("app", null);
        assertThat(pool.connection("app", null)).isSameAs(first);
        openStreamOn(first);
        pumpAll();
        assertThat(H2Connection.of(first.getNow()).atStreamLimit()).isTrue();

        Future<Channel> second = pool.connection("app", null);
        assertThat(second).isNotSameAs(first);
        assertThat(pool.size("app")).isEqualTo(2);
        assertThat(pool.connection("app", null)).as("the new one takes streams").isSameAs(second);
    }

    @Test
    void pastItsCapAFullConnectionIsHandedOutAndItsStreamWillBeRefused() {
        for (int i = 0; i < H2ConnectionPool.MAX_PER_KEY; i++) {
            openStreamOn(pool.connection("app", null));
            pumpAll();
        }
        assertThat(pool.size("app")).isEqualTo(H2ConnectionPool.MAX_PER_KEY);
        Future<Channel> full = pool.connection("app", null);
        assertThat(H2Connection.of(full.getNow()).atStreamLimit()).isTrue();
        assertThat(pool.size("app")).isEqualTo(H2ConnectionPool.MAX_PER_KEY);
    }

    @Test
    void aConnectionGoingAwayIsReplacedAndLeavesThePoolWhenItCloses() {
        Future<Channel> first = pool.connection("app", null);
        made.getFirst().server.close();
        pumpAll();
        assertThat(H2Connection.of(first.getNow()).takesNewStreams()).isFalse();
        assertThat(H2Connection.of(first.getNow()).atStreamLimit()).isFalse();

        Future<Channel> second = pool.connection("app", null);
        assertThat(second).isNotSameAs(first);
        first.getNow().close();
        assertThat(pool.size("app")).isEqualTo(1);
    }

    @Test
    void drainedConnectionsTakeNoStreamsAndLeave() {
        Future<Channel> first = pool.connection("app", null);
        Future<Channel> other = pool.connection("other", null);
        pool.drainIf("app"::equals);
        made.getFirst().client.runPendingTasks();
        // Drained with no stream open: GOAWAY, then closed at once.
        assertThat(first.getNow().isOpen()).isFalse();
        assertThat(pool.keys()).containsExactly("other");
        assertThat(H2Connection.of(other.getNow()).takesNewStreams()).isTrue();
        assertThat(pool.connection("app", null)).isNotSameAs(first);
    }
}
