package dev.trellis.wire.protobuf;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.trellis.wire.policy.Workload;
import org.junit.jupiter.api.Test;

/** Bytes that are not a message get a {@link ProtoException} that says what is wrong, never anything else. */
class ProtoReaderTest {

    @Test
    void refusesALengthPastTheEnd() {
        byte[] bytes = {0x0a, 0x7f, 'x'};
        assertThatThrownBy(() -> Workload.read(ProtoReader.of(bytes))).isInstanceOf(ProtoException.class)
                .hasMessage("protobuf: field 1 claims 127 bytes, 1 are left");
    }

    @Test
    void refusesAVarintCutShortOrOverTenBytes() {
        assertThatThrownBy(() -> Workload.read(ProtoReader.of(new byte[] {0x18, (byte) 0x80}))).isInstanceOf(ProtoException.class)
                .hasMessageContaining("cut short");
        byte[] eleven = {0x18, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80,
            (byte) 0x80, 0x01};
        assertThatThrownBy(() -> Workload.read(ProtoReader.of(eleven))).isInstanceOf(ProtoException.class).hasMessageContaining("longer than 10 bytes");
    }

    @Test
    void refusesAStringThatIsNotUtf8() {
        assertThatThrownBy(() -> Workload.read(ProtoReader.of(new byte[] {0x0a, 0x01, (byte) 0xff}))).isInstanceOf(ProtoException.class)
                .hasMessage("protobuf: field 1 is not valid UTF-8");
    }

    @Test
    void refusesAFieldOfTheWrongWireType() {
        assertThatThrownBy(() -> Workload.read(ProtoReader.of(new byte[] {0x08, 0x01}))).isInstanceOf(ProtoException.class)
                .hasMessage("protobuf: field 1 has wire type 0, expected 2");
    }

    @Test
    void refusesFieldNumberZeroAndGroups() {
        assertThatThrownBy(() -> Workload.read(ProtoReader.of(new byte[] {0x00}))).isInstanceOf(ProtoException.class)
                .hasMessageContaining("field number 0");
        assertThatThrownBy(() -> Workload.read(ProtoReader.of(new byte[] {0x1b}))).isInstanceOf(ProtoException.class)
                .hasMessageContaining("wire type 3");
    }

    @Test
    void refusesNestingDeeperThanTheLimit() {
        // A message field holding a message field holding ..., each claiming the rest of the bytes.
        byte[] selfSimilar = new byte[2 * (ProtoReader.MAX_DEPTH + 2)];
        for (int i = 0; i < ProtoReader.MAX_DEPTH + 2; i++) {
            selfSimilar[2 * i] = 0x2a;
            selfSimilar[2 * i + 1] = (byte) (selfSimilar.length - 2 * i - 2);
        }
        assertThatThrownBy(() -> {
            ProtoReader level = ProtoReader.of(selfSimilar);
            while (level.next()) {
                level = level.readMessage();
            }
        }).isInstanceOf(ProtoException.class).hasMessage("protobuf: messages nested over " + ProtoReader.MAX_DEPTH + " deep");
    }
}
