package dev.trellis.core.text;

/**
 * Makes caller-supplied text safe to put in a message: cut to a length, control characters
 * (newlines that would forge log lines, escape sequences) replaced by {@code ?}.
 */
public final class UntrustedText {

    private UntrustedText() {}

    /** {@code value} cut to {@code maxLength} code units (with "…" when cut), controls replaced. */
    public static String printable(String value, int maxLength) {
        if (value == null) {
            return "null";
        }
        String cut = value.length() > maxLength ? value.substring(0, maxLength) + "…" : value;
        StringBuilder out = new StringBuilder(cut.length());
        cut.codePoints().forEach(c -> out.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return out.toString();
    }
}
