package dev.trellis.wire.protobuf;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * Writes one protobuf message as proto3 does: fields in the order written, values equal to
 * their default left out (except where {@link #writeMessage} is told the field is present, as
 * a member of a {@code oneof} is), repeated scalars packed. Not thread-safe.
 */
public final class ProtoWriter {

    /** A message that writes itself. */
    @FunctionalInterface
    public interface Writable {
        void writeTo(ProtoWriter writer);
    }

    private byte[] bytes = new byte[64];
    private int size;

    /** The encoding of {@code message}. */
    public static byte[] encode(Writable message) {
        ProtoWriter writer = new ProtoWriter();
        message.writeTo(writer);
        return writer.toByteArray();
    }

    public byte[] toByteArray() {
        return Arrays.copyOf(bytes, size);
    }

    public ProtoWriter writeUInt64(int field, long value) {
        if (value != 0) {
            tag(field, ProtoReader.VARINT);
            varint(value);
        }
        return this;
    }

    /** A {@code uint32}: {@code value}'s 32 bits, unsigned. */
    public ProtoWriter writeUInt32(int field, int value) {
        return writeUInt64(field, Integer.toUnsignedLong(value));
    }

    /** An {@code int32} or an enum's number: negative values take ten bytes, as protobuf writes them. */
    public ProtoWriter writeInt32(int field, int value) {
        return writeUInt64(field, value);
    }

    public ProtoWriter writeInt64(int field, long value) {
        return writeUInt64(field, value);
    }

    public ProtoWriter writeBool(int field, boolean value) {
        return writeUInt64(field, value ? 1 : 0);
    }

    public ProtoWriter writeString(int field, String value) {
        if (!value.isEmpty()) {
            writeLengthDelimited(field, value.getBytes(StandardCharsets.UTF_8));
        }
        return this;
    }

    /** A string member of a {@code oneof}: written even when empty, since being set is what it says. */
    public ProtoWriter writeOneofString(int field, String value) {
        writeLengthDelimited(field, value.getBytes(StandardCharsets.UTF_8));
        return this;
    }

    public ProtoWriter writeBytes(int field, byte[] value) {
        if (value.length > 0) {
            writeLengthDelimited(field, value);
        }
        return this;
    }

    /** A nested message; left out when {@code message} is null. */
    public ProtoWriter writeMessage(int field, Writable message) {
        if (message != null) {
            writeLengthDelimited(field, encode(message));
        }
        return this;
    }

    /** A {@code map<string, string>}: one entry message per pair. */
    public ProtoWriter writeStringMap(int field, Map<String, String> map) {
        map.forEach((key, value) -> writeMessage(field, entry -> entry.writeString(1, key).writeString(2, value)));
        return this;
    }

    /** A {@code repeated string}. */
    public ProtoWriter writeStrings(int field, Iterable<String> values) {
        for (String value : values) {
            writeLengthDelimited(field, value.getBytes(StandardCharsets.UTF_8));
        }
        return this;
    }

    /** A {@code repeated bytes}: every element, empty ones too. */
    public ProtoWriter writeRepeatedBytes(int field, Iterable<byte[]> values) {
        for (byte[] value : values) {
            writeLengthDelimited(field, value);
        }
        return this;
    }

    /** A {@code repeated} message field: every element, empty ones too. */
    public ProtoWriter writeMessages(int field, Iterable<? extends Writable> messages) {
        for (Writable message : messages) {
            writeMessage(field, message);
        }
        return this;
    }

    /** A {@code repeated uint32}, packed. */
    public ProtoWriter writePackedUInt32(int field, Iterable<Integer> values) {
        ProtoWriter packed = new ProtoWriter();
        for (int value : values) {
            packed.varint(Integer.toUnsignedLong(value));
        }
        if (packed.size > 0) {
            writeLengthDelimited(field, packed.toByteArray());
        }
        return this;
    }

    /** A {@code google.protobuf.Duration}; left out when null. */
    public ProtoWriter writeDuration(int field, java.time.Duration duration) {
        if (duration != null) {
            writeMessage(field, d -> d.writeInt64(1, duration.getSeconds()).writeInt32(2, duration.getNano()));
        }
        return this;
    }

    /** A {@code google.protobuf.Timestamp}; left out when null. */
    public ProtoWriter writeTimestamp(int field, java.time.Instant instant) {
        if (instant != null) {
            writeMessage(field, t -> t.writeInt64(1, instant.getEpochSecond()).writeInt32(2, instant.getNano()));
        }
        return this;
    }

    private void writeLengthDelimited(int field, byte[] value) {
        tag(field, ProtoReader.LENGTH_DELIMITED);
        varint(value.length);
        ensure(value.length);
        System.arraycopy(value, 0, bytes, size, value.length);
        size += value.length;
    }

    private void tag(int field, int wireType) {
        varint((long) field << 3 | wireType);
    }

    private void varint(long value) {
        ensure(10);
        while ((value & ~0x7fL) != 0) {
            bytes[size++] = (byte) ((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        bytes[size++] = (byte) value;
    }

    private void ensure(int more) {
        if (size + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
        }
    }
}
