package dev.trellis.proxy.transport;

/** Describes a failure for a log line: the message of its root cause, which names what went wrong. */
public final class Causes {

    private Causes() {}

    public static String rootMessage(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.toString() : root.getMessage();
    }
}
