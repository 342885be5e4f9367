package dev.trellis.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** `trellis await`, the postStart hook of a proxy injected as a first container: it returns once /ready answers 200, or fails in time. */
class AwaitCommandTest {

    @Test
    void waitsThroughNotReadyAnswersUntilReady() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/ready", exchange -> {
            boolean ready = asked.incrementAndGet() >= 3;
            byte[] body = (ready ? "ready\n" : "no certificate yet\n").getBytes();
            exchange.sendResponseHeaders(ready ? 200 : 503, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/ready";
            assertThat(run("await", url, "--interval", "50ms", "--timeout", "10s")).isEqualTo(0);
            assertThat(asked.get()).isEqualTo(3);
            StringWriter err = new StringWriter();
            asked.set(-1000);
            assertThat(Main.run(new String[] {"await", url, "--interval", "50ms", "--timeout", "300ms"}, new PrintWriter(new StringWriter()), new PrintWriter(err)))
                    .isEqualTo(1);
            assertThat(err.toString()).contains("not ready after").contains("HTTP 503 no certificate yet");
        } finally {
            server.stop(0);
        }
    }

    @Test
    void onlyLoopbackHttpIsAwaited() {
        StringWriter err = new StringWriter();
        assertThat(Main.run(new String[] {"await", "http://10.0.0.1:4191/ready", "--timeout", "1s"}, new PrintWriter(new StringWriter()), new PrintWriter(err)))
                .isEqualTo(1);
        assertThat(err.toString()).contains("is not an http:// URL on loopback");
    }

    private static int run(String... args) {
        return Main.run(args, new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
    }
}
