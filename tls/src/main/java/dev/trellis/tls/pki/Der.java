package dev.trellis.tls.pki;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The few DER encodings a workload's CSR is made of, written without an ASN.1 library (the
 * sidecar builds one at every renewal; the issuing side keeps Bouncy Castle). Each method
 * returns one whole TLV.
 */
final class Der {

    private Der() {
    }

    static byte[] sequence(byte[]... contents) {
        return tlv(0x30, concat(contents));
    }

    static byte[] set(byte[]... contents) {
        return tlv(0x31, concat(contents));
    }

    /** A small non-negative INTEGER. */
    static byte[] integer(int value) {
        if (value < 0 || value > 127) {
            throw new IllegalArgumentException("der: only 0-127 are written here, not " + value);
        }
        return tlv(0x02, new byte[] {(byte) value});
    }

    static byte[] oid(String dotted) {
        String[] arcs = dotted.split("\\.");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(Integer.parseInt(arcs[0]) * 40 + Integer.parseInt(arcs[1]));
        for (int i = 2; i < arcs.length; i++) {
            long arc = Long.parseLong(arcs[i]);
            int groups = 1;
            for (long rest = arc >>> 7; rest != 0; rest >>>= 7) {
                groups++;
            }
            for (int g = groups - 1; g >= 0; g--) {
                int bits = (int) ((arc >>> (7 * g)) & 0x7f);
                out.write(g == 0 ? bits : bits | 0x80);
            }
        }
        return tlv(0x06, out.toByteArray());
    }

    static byte[] utf8String(String value) {
        return tlv(0x0c, value.getBytes(StandardCharsets.UTF_8));
    }

    /** An IA5String under an implicit context tag {@code [tag]} (a GeneralName's URI is [6], its DNS name [2]). */
    static byte[] implicitIa5(int tag, String value) {
        return tlv(0x80 | tag, value.getBytes(StandardCharsets.US_ASCII));
    }

    /** A constructed context tag {@code [tag]}, implicit (a CSR's attributes are [0] IMPLICIT SET OF). */
    static byte[] implicitConstructed(int tag, byte[]... contents) {
        return tlv(0xa0 | tag, concat(contents));
    }

    static byte[] octetString(byte[] value) {
        return tlv(0x04, value);
    }

    /** A BIT STRING of whole bytes. */
    static byte[] bitString(byte[] value) {
        byte[] content = new byte[value.length + 1];
        System.arraycopy(value, 0, content, 1, value.length);
        return tlv(0x03, content);
    }

    private static byte[] tlv(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
        out.write(tag);
        int length = content.length;
        if (length < 0x80) {
            out.write(length);
        } else {
            int bytes = length > 0xffffff ? 4 : length > 0xffff ? 3 : length > 0xff ? 2 : 1;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(length >>> (8 * i));
            }
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }
}
