package dev.trellis.wire.grpc;

import dev.trellis.wire.protobuf.ProtoWriter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * gRPC's framing over HTTP/2 DATA: each message a 1-byte compressed flag (always 0 here: no
 * encoding is ever negotiated), a 4-byte big-endian length and the bytes; and the status
 * trailers that end a call.
 */
public final class GrpcMessages {

    /** {@code content-type} of a gRPC call with protobuf messages. */
    public static final String CONTENT_TYPE = "application/grpc";

    private GrpcMessages() {
    }

    /** {@code message}, framed. */
    public static ByteBuf frame(ByteBufAllocator allocator, ProtoWriter.Writable message) {
        byte[] bytes = ProtoWriter.encode(message);
        ByteBuf framed = allocator.buffer(5 + bytes.length);
        framed.writeByte(0).writeInt(bytes.length).writeBytes(bytes);
        return framed;
    }

    /** The trailers (or trailers-only headers, when {@code withStatus200}) that end a call with {@code status}. */
    public static Http2Headers trailers(GrpcStatus status, boolean withStatus200) {
        Http2Headers headers = new DefaultHttp2Headers();
        if (withStatus200) {
            headers.status("200").set("content-type", CONTENT_TYPE);
        }
        headers.set("grpc-status", Integer.toString(status.code().ordinal()));
        if (!status.description().isEmpty()) {
            headers.set("grpc-message", GrpcStatus.percentEncode(status.description()));
        }
        return headers;
    }

    /** The status that {@code trailers} carry; {@code UNKNOWN} when they carry none. */
    public static GrpcStatus status(Http2Headers trailers) {
        CharSequence code = trailers.get("grpc-status");
        if (code == null) {
            return GrpcStatus.of(GrpcStatus.Code.UNKNOWN, "the call ended without a grpc-status");
        }
        CharSequence message = trailers.get("grpc-message");
        CharSequence details = trailers.get("grpc-status-details-bin");
        byte[] detailBytes = new byte[0];
        if (details != null) {
            try {
                // gRPC sends it unpadded, which the decoder takes.
                detailBytes = Base64.getDecoder().decode(details.toString());
            } catch (IllegalArgumentException e) {
                detailBytes = new byte[0];
            }
        }
        return new GrpcStatus(GrpcStatus.Code.parse(code), message == null ? "" : GrpcStatus.percentDecode(message), detailBytes);
    }

    /** The status a response without gRPC trailers gets from its HTTP status, as gRPC's clients map it. */
    static GrpcStatus fromHttpStatus(CharSequence status) {
        GrpcStatus.Code code = switch (status == null ? "" : status.toString()) {
            case "400" -> GrpcStatus.Code.INTERNAL;
            case "401" -> GrpcStatus.Code.UNAUTHENTICATED;
            case "403" -> GrpcStatus.Code.PERMISSION_DENIED;
            case "404" -> GrpcStatus.Code.UNIMPLEMENTED;
            case "429", "502", "503", "504" -> GrpcStatus.Code.UNAVAILABLE;
            default -> GrpcStatus.Code.UNKNOWN;
        };
        return GrpcStatus.of(code, "HTTP status " + status + " instead of a gRPC response");
    }

    /**
     * Splits DATA into messages, holding at most one incomplete message of at most
     * {@code maxBytes} bytes. Not thread-safe; one per call.
     */
    public static final class Deframer {

        private final int maxBytes;
        private ByteBuf pending = Unpooled.EMPTY_BUFFER;

        public Deframer(int maxBytes) {
            this.maxBytes = maxBytes;
        }

        /**
         * Takes {@code data} (the caller keeps its reference) and returns the messages it
         * completes.
         *
         * @throws GrpcException RESOURCE_EXHAUSTED for a message over the limit, INTERNAL for a compressed one
         */
        public List<byte[]> add(ByteBuf data) throws GrpcException {
            if (!data.isReadable()) {
                return List.of();
            }
            if (pending == Unpooled.EMPTY_BUFFER) {
                pending = Unpooled.buffer(Math.min(data.readableBytes(), maxBytes + 5));
            }
            pending.writeBytes(data, data.readerIndex(), data.readableBytes());
            List<byte[]> messages = new ArrayList<>(1);
            while (pending.readableBytes() >= 5) {
                int flag = pending.getUnsignedByte(pending.readerIndex());
                long length = pending.getUnsignedInt(pending.readerIndex() + 1);
                if (flag != 0) {
                    throw GrpcStatus.of(GrpcStatus.Code.INTERNAL, "a compressed message, and no compression was negotiated").asException();
                }
                if (length > maxBytes) {
                    throw GrpcStatus.of(GrpcStatus.Code.RESOURCE_EXHAUSTED, "a message of " + length + " bytes, over the " + maxBytes + "-byte limit")
                            .asException();
                }
                if (pending.readableBytes() < 5 + length) {
                    break;
                }
                pending.skipBytes(5);
                byte[] message = new byte[(int) length];
                pending.readBytes(message);
                messages.add(message);
            }
            pending.discardReadBytes();
            return messages;
        }

        /** Whether part of a message is held (a call ending now ended mid-message). */
        public boolean holdsPart() {
            return pending.isReadable();
        }
    }
}
