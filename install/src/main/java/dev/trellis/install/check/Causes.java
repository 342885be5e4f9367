package dev.trellis.install.check;

/** The message of the deepest cause that has one: what an operator can act on. */
final class Causes {

    private Causes() {
    }

    static String message(Throwable failure) {
        String message = failure.getMessage();
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause.getMessage() != null && !cause.getMessage().isBlank()) {
                message = cause.getMessage();
            }
        }
        return message == null ? failure.getClass().getSimpleName() : message;
    }
}
