package dev.trellis.proxy;

import dev.trellis.wire.grpc.GrpcClient;
import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;

/**
 * Test fixtures built with the control plane's own protobuf types, read by the proxy's codecs:
 * each fixture passes the wire as it would from the destination service.
 */
public final class WireMessages {

    private WireMessages() {
    }

    public static <R> R read(com.google.protobuf.MessageLite message, GrpcClient.Decoder<R> decoder) {
        try {
            return decoder.read(ProtoReader.of(message.toByteArray()));
        } catch (ProtoException e) {
            throw new AssertionError("the proxy cannot read " + message, e);
        }
    }
}
