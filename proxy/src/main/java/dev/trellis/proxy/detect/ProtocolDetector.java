package dev.trellis.proxy.detect;

import static java.util.Objects.requireNonNull;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Looks at the first bytes of a connection and decides what it carries: HTTP/2 with prior
 * knowledge (the connection preface; gRPC included), HTTP/1 (a request line ending in
 * {@code HTTP/1.0} or {@code HTTP/1.1}), TLS (a ClientHello; its SNI is read), or opaque.
 *
 * <p>It decides as soon as the bytes allow and never consumes them: on a decision it calls
 * the {@link Listener} (which builds the rest of the pipeline) and removes itself, passing
 * every buffered byte on. A client that sends too little before the timeout is declared
 * opaque, so a server-speaks-first protocol stalls only for the timeout — ports known to be
 * opaque should not get a detector at all. A client that ends its side (a half-close) is
 * decided at once on what it sent. At most {@value #MAX_HTTP1_LINE} bytes of an
 * HTTP/1 request line and one TLS record are buffered. One instance per connection.
 */
public final class ProtocolDetector extends ByteToMessageDecoder {

    /** Decides what to do with a detected connection; called once, on the event loop. */
    @FunctionalInterface
    public interface Listener {
        void detected(ChannelHandlerContext ctx, Detection detection);
    }

    static final int MAX_HTTP1_LINE = 8192;

    /**
     * Detects on {@code channel} (auto-read off, a handler named {@code pending} last holding
     * what is read): reads until the protocol is known, stops reading, and calls {@code next};
     * the bytes stay with the pending handler.
     */
    public static void detectThen(io.netty.channel.Channel channel, Duration timeout, java.util.function.Consumer<Detection> next) {
        channel.pipeline().addBefore("pending", "detect", new ProtocolDetector(timeout, (ctx, detection) -> {
            channel.config().setAutoRead(false);
            next.accept(detection);
        }));
        channel.config().setAutoRead(true);
    }
    private static final byte[] H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final Pattern HTTP1_REQUEST_LINE = Pattern.compile("[A-Z]{1,20} \\S{1,8000} HTTP/1\\.[01]");

    private final Duration timeout;
    private final Listener listener;
    private ScheduledFuture<?> timer;
    private boolean decided;

    public ProtocolDetector(Duration timeout, Listener listener) {
        this.timeout = requireNonNull(timeout, "timeout");
        this.listener = requireNonNull(listener, "listener");
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        timer = ctx.executor().schedule(() -> {
            if (!decided && ctx.channel().isActive()) {
                decide(ctx, new Detection(Detection.Protocol.OPAQUE, Optional.empty(), true));
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
        }
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (decided) {
            return;
        }
        Optional<Detection> detection = look(in);
        detection.ifPresent(d -> decide(ctx, d));
    }

    /**
     * The input ended: on an open connection the client half-closed (and may wait for an
     * answer), so what it sent is all there is to decide on; too little to tell is opaque.
     */
    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (decided) {
            return;
        }
        Optional<Detection> detection = look(in);
        if (ctx.channel().isActive()) {
            decide(ctx, detection.orElse(Detection.of(Detection.Protocol.OPAQUE)));
        } else {
            detection.ifPresent(d -> decide(ctx, d));
        }
    }

    private void decide(ChannelHandlerContext ctx, Detection detection) {
        decided = true;
        listener.detected(ctx, detection);
        if (ctx.pipeline().context(this) != null) {
            ctx.pipeline().remove(this);
        }
    }

    /** A decision, or empty when more bytes are needed. */
    static Optional<Detection> look(ByteBuf in) {
        int available = in.readableBytes();
        if (available == 0) {
            return Optional.empty();
        }
        int start = in.readerIndex();
        byte first = in.getByte(start);

        if (first == 0x16) {
            ClientHelloParser.Result tls = ClientHelloParser.parse(in);
            return switch (tls) {
                case ClientHelloParser.NeedMore ignored -> Optional.empty();
                case ClientHelloParser.NotTls ignored -> Optional.of(Detection.of(Detection.Protocol.OPAQUE));
                case ClientHelloParser.Tls hello -> Optional.of(new Detection(Detection.Protocol.TLS, hello.serverName(), false));
            };
        }
        if (first == 'P') {
            int compare = Math.min(available, H2_PREFACE.length);
            for (int i = 0; i < compare; i++) {
                if (in.getByte(start + i) != H2_PREFACE[i]) {
                    return http1OrOpaque(in);
                }
            }
            return compare == H2_PREFACE.length ? Optional.of(Detection.of(Detection.Protocol.HTTP2)) : Optional.empty();
        }
        return http1OrOpaque(in);
    }

    private static Optional<Detection> http1OrOpaque(ByteBuf in) {
        int start = in.readerIndex();
        int available = in.readableBytes();
        int limit = Math.min(available, MAX_HTTP1_LINE);
        for (int i = 0; i < limit; i++) {
            byte b = in.getByte(start + i);
            if (b == '\n') {
                int end = i > 0 && in.getByte(start + i - 1) == '\r' ? i - 1 : i;
                String line = in.toString(start, end, StandardCharsets.US_ASCII);
                return Optional.of(Detection.of(HTTP1_REQUEST_LINE.matcher(line).matches() ? Detection.Protocol.HTTP1 : Detection.Protocol.OPAQUE));
            }
            // Before the first space only a method's upper-case letters may appear.
            if (i < 21 && b != ' ' && (b < 'A' || b > 'Z') && !sawSpace(in, start, i)) {
                return Optional.of(Detection.of(Detection.Protocol.OPAQUE));
            }
            if (b < 0x09 || (b > 0x0d && b < 0x20) || b == 0x7f) {
                return Optional.of(Detection.of(Detection.Protocol.OPAQUE));
            }
        }
        return available >= MAX_HTTP1_LINE ? Optional.of(Detection.of(Detection.Protocol.OPAQUE)) : Optional.empty();
    }

    private static boolean sawSpace(ByteBuf in, int start, int before) {
        for (int j = 0; j < before; j++) {
            if (in.getByte(start + j) == ' ') {
                return true;
            }
        }
        return false;
    }
}
