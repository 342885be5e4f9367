package dev.trellis.proxy.detect;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.Test;

class ProtocolDetectorTest {

    private final AtomicReference<Detection> detected = new AtomicReference<>();

    private EmbeddedChannel channel() {
        return new EmbeddedChannel(new ProtocolDetector(Duration.ofSeconds(10), (ctx, d) -> detected.set(d)));
    }

    @Test
    void detectsHttp1FromTheRequestLineAndPassesEveryByteOn() {
        EmbeddedChannel channel = channel();
        channel.writeInbound(ascii("GET /api/list HTT"));
        assertThat(detected.get()).isNull();
        channel.writeInbound(ascii("P/1.1\r\nHost: web\r\n\r\n"));
        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.HTTP1);
        assertThat(readAll(channel)).isEqualTo("GET /api/list HTTP/1.1\r\nHost: web\r\n\r\n");
        assertThat(channel.pipeline().get(ProtocolDetector.class)).isNull();
    }

    @Test
    void aClientThatEndsItsSideIsDecidedAtOnceOnWhatItSent() {
        EmbeddedChannel channel = channel();
        channel.writeInbound(ascii("GET /api/li"));
        assertThat(detected.get()).isNull();

        channel.pipeline().fireUserEventTriggered(io.netty.channel.socket.ChannelInputShutdownEvent.INSTANCE);

        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.OPAQUE);
        assertThat(detected.get().timedOut()).isFalse();
        assertThat(readAll(channel)).isEqualTo("GET /api/li");
        assertThat(channel.pipeline().get(ProtocolDetector.class)).isNull();
    }

    @Test
    void detectsHttp2PriorKnowledge() {
        EmbeddedChannel channel = channel();
        channel.writeInbound(ascii("PRI * HTTP/2.0\r\n"));
        assertThat(detected.get()).isNull();
        channel.writeInbound(ascii("\r\nSM\r\n\r\n"));
        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.HTTP2);
    }

    @Test
    void detectsTlsAndReadsTheServerName() throws Exception {
        byte[] hello = clientHello("api.example.org");
        EmbeddedChannel channel = channel();
        channel.writeInbound(Unpooled.wrappedBuffer(hello, 0, 20));
        assertThat(detected.get()).isNull();
        channel.writeInbound(Unpooled.wrappedBuffer(hello, 20, hello.length - 20));
        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.TLS);
        assertThat(detected.get().sni()).contains("api.example.org");
        ByteBuf passed = channel.readInbound();
        assertThat(passed.readableBytes()).isEqualTo(hello.length);
        passed.release();
    }

    @Test
    void binaryProtocolsAreOpaqueAtOnce() {
        EmbeddedChannel channel = channel();
        channel.writeInbound(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 8, 4, (byte) 0xd2, 0x16, 0x2f}));
        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.OPAQUE);
        assertThat(detected.get().timedOut()).isFalse();
    }

    @Test
    void textThatIsNotARequestLineIsOpaque() {
        EmbeddedChannel channel = channel();
        channel.writeInbound(ascii("*1\r\n$4\r\nPING\r\n"));
        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.OPAQUE);
        EmbeddedChannel redisInline = channel();
        detected.set(null);
        redisInline.writeInbound(ascii("PING\r\n"));
        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.OPAQUE);
    }

    @Test
    void aSilentClientIsOpaqueAfterTheTimeout() {
        EmbeddedChannel channel = channel();
        channel.advanceTimeBy(9, TimeUnit.SECONDS);
        channel.runScheduledPendingTasks();
        assertThat(detected.get()).isNull();
        channel.advanceTimeBy(2, TimeUnit.SECONDS);
        channel.runScheduledPendingTasks();
        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.OPAQUE);
        assertThat(detected.get().timedOut()).isTrue();
    }

    @Test
    void anEndlessRequestLineIsOpaqueAtTheLimit() {
        EmbeddedChannel channel = channel();
        channel.writeInbound(ascii("GET /" + "a".repeat(ProtocolDetector.MAX_HTTP1_LINE)));
        assertThat(detected.get().protocol()).isEqualTo(Detection.Protocol.OPAQUE);
    }

    private static ByteBuf ascii(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
    }

    private static String readAll(EmbeddedChannel channel) {
        StringBuilder out = new StringBuilder();
        ByteBuf buf;
        while ((buf = channel.readInbound()) != null) {
            out.append(buf.toString(StandardCharsets.US_ASCII));
            buf.release();
        }
        return out.toString();
    }

    private static byte[] clientHello(String serverName) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, null, null);
        SSLEngine engine = context.createSSLEngine(serverName, 443);
        engine.setUseClientMode(true);
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(serverName)));
        engine.setSSLParameters(parameters);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }
}
