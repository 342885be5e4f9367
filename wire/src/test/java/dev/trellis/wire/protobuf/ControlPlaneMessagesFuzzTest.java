package dev.trellis.wire.protobuf;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.trellis.wire.destination.Profile;
import dev.trellis.wire.destination.Update;
import dev.trellis.wire.grpc.GrpcException;
import dev.trellis.wire.grpc.GrpcMessages;
import dev.trellis.wire.identity.CertifyResponse;
import dev.trellis.wire.policy.EgressPolicy;
import dev.trellis.wire.policy.InboundServer;
import dev.trellis.wire.policy.WorkloadPorts;
import dev.trellis.wire.tap.ObserveRequest;
import io.netty.buffer.Unpooled;
import java.util.List;

/**
 * Every message the proxy reads from the network, on any bytes: each either reads (and what it
 * read writes and reads back the same, where the message keeps every field it reads) or throws
 * {@link ProtoException}; the gRPC deframer either splits or throws {@link GrpcException}.
 * Nothing else, and nothing that hangs.
 */
class ControlPlaneMessagesFuzzTest {

    private interface Read {
        Object read(ProtoReader reader) throws ProtoException;
    }

    private static final List<Read> READERS = List.of(Update::read, Profile::read, InboundServer::read, EgressPolicy::read, WorkloadPorts::read,
            CertifyResponse::read, ObserveRequest::read);

    @FuzzTest(maxDuration = "20s")
    void everyReaderReadsOrRefusesAndNothingElse(byte[] input) throws Exception {
        for (Read reader : READERS) {
            try {
                Object read = reader.read(ProtoReader.of(input));
                if (read instanceof Update || read instanceof InboundServer server && server.protocol() != InboundServer.Protocol.UNRECOGNIZED
                        || read instanceof WorkloadPorts) {
                    byte[] again = ProtoWriter.encode((ProtoWriter.Writable) read);
                    assertThat(reader.read(ProtoReader.of(again))).isEqualTo(read);
                }
            } catch (ProtoException expected) {
                // refused, with a reason
            }
        }
        GrpcMessages.Deframer deframer = new GrpcMessages.Deframer(1024);
        try {
            int split = input.length == 0 ? 0 : (input[0] & 0xff) % (input.length + 1);
            deframer.add(Unpooled.wrappedBuffer(input, 0, split));
            deframer.add(Unpooled.wrappedBuffer(input, split, input.length - split));
        } catch (GrpcException expected) {
            // over the limit, or compressed
        }
    }
}
