package dev.trellis.core.text;

/** A failure described for a person: the message of its deepest cause that has one, which names what went wrong. */
public final class Causes {

    private Causes() {
    }

    /** The first line of the deepest message in {@code failure}'s causes; its class's simple name when none has one. */
    public static String rootMessage(Throwable failure) {
        String message = null;
        for (Throwable cause = failure; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (cause.getMessage() != null && !cause.getMessage().isBlank()) {
                message = cause.getMessage();
            }
        }
        if (message == null) {
            Throwable root = failure;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            return root.getClass().getSimpleName();
        }
        int newline = message.indexOf('\n');
        return newline > 0 ? message.substring(0, newline) : message;
    }
}
