package dev.trellis.proxy.http;

import io.netty.handler.codec.http2.Http2Headers;
import java.util.Optional;

/** Notes an HTTP/2 response's status and, for gRPC, its grpc-status (in trailers or trailers-only headers). One per stream. */
public final class ResponseStatus {
    private int status = 200;
    private boolean headersSeen;
    private Optional<Integer> grpcStatus = Optional.empty();

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

    /** Headers the response's stream carried (its head, 1xx heads, trailers), in order. */
    public void headers(Http2Headers headers) {
        if (!headersSeen && headers.status() != null) {
            headersSeen = true;
            status = parseStatus(headers.status());
        }
        CharSequence grpc = headers.get("grpc-status");
        if (grpc != null) {
            try {
                grpcStatus = Optional.of(Integer.parseInt(grpc.toString().strip()));
            } catch (NumberFormatException e) {
                grpcStatus = Optional.of(2); // UNKNOWN
            }
        }
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
