package dev.trellis.proxy.connlog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ConnectionLogTest {

    @Test
    void aStalledSinkDoesNotStallTheCallerAndWhatCannotWaitIsCountedNotLostSilently() throws Exception {
        StalledSink sink = new StalledSink();
        ConnectionLog log = new ConnectionLog(sink, 4);
        log.record(entry("first"));
        assertThat(sink.entered.await(5, TimeUnit.SECONDS)).as("the writer is stuck in the sink").isTrue();

        long started = System.nanoTime();
        for (int i = 0; i < 10; i++) {
            log.record(entry("queued " + i));
        }
        // The caller (an event loop) never waits on the sink.
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
        assertThat(log.dropped()).as("four wait, six cannot").isEqualTo(6);

        sink.release.countDown();
        log.close();
        List<String> lines = sink.written().lines().toList();
        assertThat(lines).hasSize(5);
        assertThat(lines.get(0)).contains("\"reason\":\"first\"");
        for (int i = 0; i < 4; i++) {
            assertThat(lines.get(i + 1)).contains("\"reason\":\"queued " + i + "\"");
        }
    }

    @Test
    void aBurstArrivesWholeAndInOrderAndCloseWritesWhatIsQueued() throws Exception {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        ConnectionLog log = new ConnectionLog(sink);
        for (int i = 0; i < 1000; i++) {
            log.record(entry("line " + i));
        }
        log.close();
        List<String> lines = sink.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(lines).hasSize(1000);
        for (int i = 0; i < 1000; i++) {
            assertThat(lines.get(i)).startsWith("{\"time\":").endsWith("\"reason\":\"line " + i + "\"}");
        }
        assertThat(log.dropped()).isZero();

        log.record(entry("after close"));
        assertThat(log.dropped()).isEqualTo(1);
    }

    @Test
    void linesAppearWithoutWaitingForClose() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        ConnectionLog log = new ConnectionLog(sink);
        log.record(entry("prompt"));
        await().atMost(Duration.ofSeconds(5)).until(() -> sink.toString(StandardCharsets.UTF_8).contains("\"reason\":\"prompt\""));
        log.close();
    }

    private static ConnectionLog.Entry entry(String reason) {
        return new ConnectionLog.Entry(ConnectionLog.Event.INBOUND_REFUSAL, Instant.parse("2026-11-28T16:00:00Z"), null, "10.0.0.1:1234", null, null, null,
                "tcp", false, null, 0, 0, Duration.ZERO, "policy_denied", reason);
    }

    /** A sink whose first write blocks until released, as a full pipe to a stalled reader does. */
    private static final class StalledSink extends OutputStream {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            synchronized (bytes) {
                bytes.write(b, off, len);
            }
        }

        String written() {
            synchronized (bytes) {
                return bytes.toString(StandardCharsets.UTF_8);
            }
        }
    }
}
