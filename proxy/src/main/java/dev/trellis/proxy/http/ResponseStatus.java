package dev.trellis.proxy.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.Optional;

/** Notes an HTTP/2 response's status and, for gRPC, its grpc-status (in trailers or trailers-only headers). One per stream. */
final class ResponseStatus extends ChannelInboundHandlerAdapter {
    int status = 200;
    /** The response has begun: too late to answer in its place. */
    boolean headersSeen;
    Optional<Integer> grpcStatus = Optional.empty();
    private boolean first = true;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof io.netty.handler.codec.http2.Http2HeadersFrame frame) {
            if (first && frame.headers().status() != null) {
                headersSeen = true;
                status = HttpInbound.parsePort(frame.headers().status().toString()).orElse(200);
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
}
