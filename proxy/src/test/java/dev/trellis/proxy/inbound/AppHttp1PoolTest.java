package dev.trellis.proxy.inbound;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.trellis.proxy.transport.IoRuntime;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.ReferenceCountUtil;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AppHttp1PoolTest {

    private static final byte[] OK = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final IoRuntime io = IoRuntime.create(1);
    private final AppHttp1Pool pool = new AppHttp1Pool(io, Duration.ofSeconds(5));

    @AfterEach
    void close() {
        pool.close();
        io.close();
    }

    /**
     * One handler per connection, for every exchange: swapping handlers with pipeline.replace
     * linked each exchange's context to the next, and a promoted one kept every later exchange
     * alive until a full collection (docs/benchmarks.md, "the server proxy's heap").
     */
    @Test
    void aPooledConnectionPassesReadsToTheExchangeUsingItWithoutChangingItsPipeline() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            InetSocketAddress address = (InetSocketAddress) listener.getLocalSocketAddress();
            EventLoop loop = io.group().next();
            Responses first = new Responses();
            Channel app = pool.acquire(address, loop, first).get(5, TimeUnit.SECONDS);
            app.config().setAutoRead(true);
            try (Socket server = listener.accept()) {
                OutputStream out = server.getOutputStream();
                out.write(OK);
                await().atMost(Duration.ofSeconds(5)).until(() -> first.statuses.size() == 1);
                ChannelHandlerContext context = app.pipeline().context("exchange");

                // The next exchange may take the connection on its loop before the give-back's
                // hand-over (queued to that loop from the stream's) has run: it must keep its reads.
                Responses second = new Responses();
                CountDownLatch givenBack = new CountDownLatch(1);
                Future<Channel> taken = loop.submit(() -> {
                    givenBack.await();
                    return pool.acquire(address, loop, second).getNow();
                });
                pool.giveBack(address, app, first);
                givenBack.countDown();
                assertThat(taken.get(5, TimeUnit.SECONDS)).isSameAs(app);
                out.write(OK);
                await().atMost(Duration.ofSeconds(5)).until(() -> second.statuses.size() == 1);
                assertThat(first.statuses).hasSize(1);
                assertThat(app.pipeline().context("exchange")).as("the same context, not a replacement").isSameAs(context);
                pool.giveBack(address, app, second);
                loop.submit(() -> { }).get(5, TimeUnit.SECONDS); // the hand-over, queued to the connection's loop, has run

                // Idle now: an answer nobody asked for closes the connection.
                out.write(OK);
                await().atMost(Duration.ofSeconds(5)).until(() -> !app.isActive());
                assertThat(second.statuses).hasSize(1);
            }
        }
    }

    /** Records the status of each response it is handed. */
    private static final class Responses extends ChannelInboundHandlerAdapter {
        final CopyOnWriteArrayList<Integer> statuses = new CopyOnWriteArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpResponse response) {
                statuses.add(response.status().code());
            }
            ReferenceCountUtil.release(msg);
        }
    }
}
