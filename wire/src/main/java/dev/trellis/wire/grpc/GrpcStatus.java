package dev.trellis.wire.grpc;

import static java.util.Objects.requireNonNull;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * How a gRPC call ended: its code, the server's description ({@code grpc-message}, decoded)
 * and its binary details ({@code grpc-status-details-bin}: a {@code google.rpc.Status}; empty
 * when none).
 */
public record GrpcStatus(Code code, String description, byte[] details) {

    /** gRPC's status codes, in their numeric order. */
    public enum Code {
        OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
        RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED;

        /** The code numbered {@code value}; UNKNOWN for a number gRPC does not define. */
        public static Code of(int value) {
            Code[] codes = values();
            return value >= 0 && value < codes.length ? codes[value] : UNKNOWN;
        }

        /** The code a {@code grpc-status} header gives; UNKNOWN when it is not a number gRPC defines. */
        public static Code parse(CharSequence header) {
            try {
                return of(Integer.parseInt(header.toString().strip()));
            } catch (NumberFormatException e) {
                return UNKNOWN;
            }
        }
    }

    public GrpcStatus {
        requireNonNull(code, "code");
        requireNonNull(description, "description");
        requireNonNull(details, "details");
    }

    public static GrpcStatus of(Code code, String description) {
        return new GrpcStatus(code, description, new byte[0]);
    }

    public boolean isOk() {
        return code == Code.OK;
    }

    /** An exception carrying this status, for futures. */
    public GrpcException asException() {
        return new GrpcException(this);
    }

    @Override
    public String toString() {
        return description.isEmpty() ? code.name() : code + ": " + description;
    }

    /**
     * {@code grpc-message}'s encoding: printable ASCII except {@code %} as is, every other byte
     * of the UTF-8 as {@code %XX}.
     */
    static String percentEncode(String message) {
        StringBuilder out = new StringBuilder(message.length());
        for (byte b : message.getBytes(StandardCharsets.UTF_8)) {
            if (b >= 0x20 && b < 0x7f && b != '%') {
                out.append((char) b);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return out.toString();
    }

    /** Decodes {@code grpc-message}; a malformed escape is kept as it came, as gRPC's own clients do. */
    static String percentDecode(CharSequence message) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(message.length());
        for (int i = 0; i < message.length(); i++) {
            char c = message.charAt(i);
            if (c == '%' && i + 2 < message.length()
                    && Character.digit(message.charAt(i + 1), 16) >= 0 && Character.digit(message.charAt(i + 2), 16) >= 0) {
                bytes.write(Character.digit(message.charAt(i + 1), 16) << 4 | Character.digit(message.charAt(i + 2), 16));
                i += 2;
            } else {
                bytes.write(c < 0x100 ? c : '?');
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
