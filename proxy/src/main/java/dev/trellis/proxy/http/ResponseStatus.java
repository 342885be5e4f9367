package dev.trellis.proxy.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.Optional;

/** Notes an HTTP/2 response's status and, for gRPC, its grpc-status (in trailers or trailers-only headers). One per stream. */
public final class ResponseStatus extends ChannelInboundHandlerAdapter {
    private int status = 200;
    private boolean headersSeen;
    private Optional<Integer> grpcStatus = Optional.empty();
    private boolean first = true;

    /** The response's {@code :status}; 200 until its headers came (or when it was not a number). */
    public int status() {
        return status;
    }

    /** The response has begun: too late to answer in its place. */
    public boolean headersSeen() {
        return headersSeen;
    }

    /** Its gRPC status, when it carried one. */
    public Optional<Integer> grpcStatus() {
        return grpcStatus;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof io.netty.handler.codec.http2.Http2HeadersFrame frame) {
            if (first && frame.headers().status() != null) {
                headersSeen = true;
                status = parseStatus(frame.headers().status());
                first = false;
            }
            CharSequence grpc = frame.headers().get("grpc-status");
            if (grpc != null) {
                try {
                    grpcStatus = Optional.of(Integer.parseInt(grpc.toString().strip()));
                } catch (NumberFormatException e) {
                    grpcStatus = Optional.of(2); // UNKNOWN
                }
            }
        }
        ctx.fireChannelRead(msg);
    }

    private static int parseStatus(CharSequence text) {
        try {
            int parsed = Integer.parseInt(text.toString().strip());
            return parsed >= 100 && parsed <= 999 ? parsed : 200;
        } catch (NumberFormatException e) {
            return 200;
        }
    }
}
