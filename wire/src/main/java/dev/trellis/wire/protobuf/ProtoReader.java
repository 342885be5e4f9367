package dev.trellis.wire.protobuf;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Reads one protobuf message from bytes the caller already bounded (a gRPC frame, at most its
 * channel's message limit): field by field with {@link #next}, each value read by the method
 * of its type, unknown fields skipped with {@link #skip}. Nested messages are read by a child
 * reader over their slice, at most {@value #MAX_DEPTH} deep. Anything truncated, of the wrong
 * wire type, or not UTF-8 where a string is declared throws {@link ProtoException} naming the
 * field. Not thread-safe; one reader per message.
 */
public final class ProtoReader {

    /** Deepest nesting of messages accepted (the messages here nest at most 5 deep). */
    public static final int MAX_DEPTH = 32;

    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final byte[] bytes;
    private final int end;
    private final int depth;
    private int position;
    private int field;
    private int wireType;

    private ProtoReader(byte[] bytes, int offset, int end, int depth) {
        this.bytes = bytes;
        this.position = offset;
        this.end = end;
        this.depth = depth;
    }

    /** A reader of the whole of {@code bytes}. */
    public static ProtoReader of(byte[] bytes) {
        return new ProtoReader(bytes, 0, bytes.length, 0);
    }

    /** Moves to the next field; false at the end of the message. */
    public boolean next() throws ProtoException {
        if (position >= end) {
            return false;
        }
        long tag = readRawVarint();
        field = (int) (tag >>> 3);
        wireType = (int) (tag & 7);
        if (field <= 0 || tag >>> 3 > 0x1fffffff) {
            throw new ProtoException("protobuf: field number " + (tag >>> 3) + " is not valid");
        }
        return true;
    }

    /** The current field's number. */
    public int field() {
        return field;
    }

    /** Skips the current field's value, whatever its type. */
    public void skip() throws ProtoException {
        switch (wireType) {
            case VARINT -> readRawVarint();
            case FIXED64 -> advance(8);
            case LENGTH_DELIMITED -> advance(readLength());
            case FIXED32 -> advance(4);
            default -> throw new ProtoException("protobuf: field " + field + " has wire type " + wireType + ", which is not supported");
        }
    }

    public long readUInt64() throws ProtoException {
        expect(VARINT);
        return readRawVarint();
    }

    /** A {@code uint32}: the low 32 bits, as protobuf reads them; callers that need it unsigned use {@link Integer#toUnsignedLong}. */
    public int readUInt32() throws ProtoException {
        return (int) readUInt64();
    }

    public int readInt32() throws ProtoException {
        return (int) readUInt64();
    }

    public long readInt64() throws ProtoException {
        return readUInt64();
    }

    public int readEnum() throws ProtoException {
        return (int) readUInt64();
    }

    public boolean readBool() throws ProtoException {
        return readUInt64() != 0;
    }

    public byte[] readBytes() throws ProtoException {
        expect(LENGTH_DELIMITED);
        int length = readLength();
        byte[] value = Arrays.copyOfRange(bytes, position, position + length);
        position += length;
        return value;
    }

    /** A {@code string}: must be valid UTF-8, as protobuf requires of proto3 strings. */
    public String readString() throws ProtoException {
        expect(LENGTH_DELIMITED);
        int length = readLength();
        try {
            String value = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, position, length))
                    .toString();
            position += length;
            return value;
        } catch (CharacterCodingException e) {
            throw new ProtoException("protobuf: field " + field + " is not valid UTF-8");
        }
    }

    /** The current field as a nested message, read by its own reader. */
    public ProtoReader readMessage() throws ProtoException {
        expect(LENGTH_DELIMITED);
        if (depth + 1 > MAX_DEPTH) {
            throw new ProtoException("protobuf: messages nested over " + MAX_DEPTH + " deep");
        }
        int length = readLength();
        ProtoReader nested = new ProtoReader(bytes, position, position + length, depth + 1);
        position += length;
        return nested;
    }

    /**
     * A {@code repeated uint32} element or elements: packed (how proto3 writes them) or one
     * per field (how proto2 did; parsers must take both).
     */
    public void readRepeatedUInt32(IntConsumer each) throws ProtoException {
        if (wireType == LENGTH_DELIMITED) {
            int length = readLength();
            int stop = position + length;
            ProtoReader packed = new ProtoReader(bytes, position, stop, depth);
            packed.field = field;
            while (packed.position < stop) {
                each.accept((int) packed.readRawVarint());
            }
            position = stop;
        } else {
            each.accept(readUInt32());
        }
    }

    /** One entry of a {@code map<string, string>} field, put into {@code into}. */
    public void readStringMapEntry(java.util.Map<String, String> into) throws ProtoException {
        ProtoReader entry = readMessage();
        String key = "";
        String value = "";
        while (entry.next()) {
            switch (entry.field()) {
                case 1 -> key = entry.readString();
                case 2 -> value = entry.readString();
                default -> entry.skip();
            }
        }
        into.put(key, value);
    }

    /** A {@code google.protobuf.Duration}. */
    public java.time.Duration readDuration() throws ProtoException {
        ProtoReader duration = readMessage();
        long seconds = 0;
        int nanos = 0;
        while (duration.next()) {
            switch (duration.field()) {
                case 1 -> seconds = duration.readInt64();
                case 2 -> nanos = duration.readInt32();
                default -> duration.skip();
            }
        }
        return java.time.Duration.ofSeconds(seconds, nanos);
    }

    private void expect(int type) throws ProtoException {
        if (wireType != type) {
            throw new ProtoException("protobuf: field " + field + " has wire type " + wireType + ", expected " + type);
        }
    }

    private int readLength() throws ProtoException {
        long length = readRawVarint();
        if (length < 0 || length > end - position) {
            throw new ProtoException("protobuf: field " + field + " claims " + length + " bytes, " + (end - position) + " are left");
        }
        return (int) length;
    }

    private void advance(int count) throws ProtoException {
        if (count > end - position) {
            throw new ProtoException("protobuf: field " + field + " is cut short");
        }
        position += count;
    }

    private long readRawVarint() throws ProtoException {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (position >= end) {
                throw new ProtoException("protobuf: a varint in field " + field + " is cut short");
            }
            byte b = bytes[position++];
            value |= (long) (b & 0x7f) << shift;
            if (b >= 0) {
                return value;
            }
        }
        throw new ProtoException("protobuf: a varint in field " + field + " is longer than 10 bytes");
    }
}
