package dev.trellis.proxy.outbound;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.proxy.policy.EgressGate;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import java.nio.charset.StandardCharsets;

/**
 * An HTTP/1 request head from an app, as the outbound side reads it: the Host an egress rule
 * is checked against, and the request's authority when the app uses the proxy as its HTTP
 * proxy. For any bytes: no exception, and a host or authority, when found, is bounded text
 * on one line.
 */
class RequestHeadFuzzTest {

    @FuzzTest(maxDuration = "20s")
    void findsHostAndAuthorityOrNothing(byte[] input) {
        String head = new String(input, StandardCharsets.ISO_8859_1);
        EgressGate.httpHost(head).ifPresent(host -> assertThat(host).hasSizeBetween(1, 255).doesNotContain("\r", "\n"));

        EmbeddedChannel channel = new EmbeddedChannel(new HttpServerCodec(8192, 16384, 16384), new HttpObjectAggregator(64 * 1024));
        try {
            channel.writeInbound(Unpooled.wrappedBuffer(input));
            for (Object msg; (msg = channel.readInbound()) != null; ) {
                if (msg instanceof FullHttpRequest request) {
                    try {
                        if (request.decoderResult().isSuccess()) {
                            HttpOutbound.authorityOf(request).ifPresent(authority -> assertThat(authority).isNotBlank().doesNotContain("\r", "\n"));
                        }
                    } finally {
                        request.release();
                    }
                }
            }
        } catch (DecoderException refused) {
            // a head over the codec's bounds: the proxy answers 413 or 400
        } finally {
            try {
                channel.finishAndReleaseAll();
            } catch (io.netty.handler.codec.CodecException atClose) {
                // the same refusal again, or a body cut short by the end of the input
            }
        }
    }
}
