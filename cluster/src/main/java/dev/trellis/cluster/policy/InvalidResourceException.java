package dev.trellis.cluster.policy;

/** A resource that cannot be used; the message names the resource and the field, e.g. {@code Server emojivoto/web: spec.port: ...}. */
public final class InvalidResourceException extends Exception {
    public InvalidResourceException(String message) {
        super(message);
    }
}
