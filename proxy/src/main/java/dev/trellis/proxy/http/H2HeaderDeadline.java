package dev.trellis.proxy.http;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.transport.Deadlines;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Error;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The request-head deadline of an HTTP/2 connection, as {@code Http1RequestDeadline} is
 * HTTP/1's: the client's first frame after the preface (its SETTINGS), every frame header, and
 * every header block — a HEADERS frame and the CONTINUATION frames that complete it — must
 * arrive whole within {@code deadline} of its first byte, however slowly its bytes trickle in
 * (the payloads of other frames, DATA above all, are bodies and bounded elsewhere). Netty's codec
 * holds an unfinished header block (bounded in size) for as long as the client keeps the
 * connection: an outside review held one on the HTTP forward past 65 s. Past the deadline
 * {@code onExpiry} gets what was late (the owner counts and logs the refusal), the client gets GOAWAY with
 * {@code ENHANCE_YOUR_CALM}, and the connection closes.
 *
 * <p>It sits before the HTTP/2 codec and only reads frame headers as the bytes pass (the
 * 24-byte client preface first, when {@code prefaceExpected}), copying and holding nothing.
 * Malformed framing is the codec's to refuse. One per connection; event-loop only.
 */
public final class H2HeaderDeadline extends ChannelInboundHandlerAdapter {

    private static final int PREFACE_LENGTH = 24;
    private static final int FRAME_HEADER_LENGTH = 9;
    private static final int HEADERS = 0x1;
    private static final int CONTINUATION = 0x9;
    private static final int END_HEADERS = 0x4;

    private final Duration deadline;
    private final Deadlines.Source wheels;
    private Deadlines wheel;
    private final Consumer<String> onExpiry;
    private final byte[] header = new byte[FRAME_HEADER_LENGTH];
    private int prefaceLeft;
    private int headerFill;
    private long payloadLeft;
    private int type;
    private int flags;
    private boolean firstFrameSeen;
    private boolean headerBlockOpen;
    private Deadlines.Deadline timer;

    /** {@code prefaceExpected}: the client's connection preface is still in the bytes to come (not consumed by an earlier handler). */
    public H2HeaderDeadline(Duration deadline, Deadlines.Source wheels, boolean prefaceExpected, Consumer<String> onExpiry) {
        this.wheels = requireNonNull(wheels, "wheels");
        this.deadline = requireNonNull(deadline, "deadline");
        this.onExpiry = requireNonNull(onExpiry, "onExpiry");
        this.prefaceLeft = prefaceExpected ? PREFACE_LENGTH : 0;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        wheel = wheels.of(ctx.channel().eventLoop());
        // Until the client's SETTINGS has arrived whole.
        arm(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf bytes) {
            scan(ctx, bytes);
        }
        ctx.fireChannelRead(msg);
    }

    private void scan(ChannelHandlerContext ctx, ByteBuf bytes) {
        int index = bytes.readerIndex();
        int end = bytes.writerIndex();
        while (index < end) {
            if (prefaceLeft > 0) {
                int take = Math.min(prefaceLeft, end - index);
                index += take;
                prefaceLeft -= take;
            } else if (payloadLeft > 0) {
                int take = (int) Math.min(payloadLeft, end - index);
                index += take;
                payloadLeft -= take;
                if (payloadLeft == 0) {
                    frameDone();
                }
            } else {
                if (headerFill == 0 && timer == null) {
                    // A frame's 9-byte header, too, comes whole within the deadline of its first byte.
                    arm(ctx);
                }
                header[headerFill++] = bytes.getByte(index++);
                if (headerFill == FRAME_HEADER_LENGTH) {
                    headerFill = 0;
                    payloadLeft = ((header[0] & 0xffL) << 16) | ((header[1] & 0xffL) << 8) | (header[2] & 0xffL);
                    type = header[3] & 0xff;
                    flags = header[4] & 0xff;
                    if (type == HEADERS) {
                        headerBlockOpen = true;
                    } else if (!headerBlockOpen && firstFrameSeen) {
                        // Other frames' payloads (DATA above all) are not request heads: bodies are bounded elsewhere.
                        cancel();
                    }
                    if (payloadLeft == 0) {
                        frameDone();
                    }
                }
            }
        }
    }

    private void frameDone() {
        if (headerBlockOpen && (type == HEADERS || type == CONTINUATION) && (flags & END_HEADERS) != 0) {
            headerBlockOpen = false;
        }
        firstFrameSeen = true;
        if (!headerBlockOpen) {
            cancel();
        }
    }

    private void arm(ChannelHandlerContext ctx) {
        cancel();
        timer = wheel.schedule(deadline, () -> expire(ctx));
    }

    private void expire(ChannelHandlerContext ctx) {
        timer = null;
        if (!ctx.channel().isActive()) {
            return;
        }
        String why = (firstFrameSeen ? "request headers" : "the client's SETTINGS") + " not complete within " + deadline;
        onExpiry.accept(why);
        ByteBuf debug = ByteBufUtil.writeUtf8(ctx.alloc(), why);
        // Through the codec from the tail, so that it frames the GOAWAY; then closed whatever the client does.
        ctx.channel().writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM, debug)).addListener(ChannelFutureListener.CLOSE);
        ctx.channel().eventLoop().schedule(() -> ctx.channel().close(), 1, TimeUnit.SECONDS);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel();
            timer = null;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancel();
    }
}
