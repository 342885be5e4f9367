package dev.trellis.core.settings;

import java.util.Locale;

/** How the injector adds proxies: native sidecars, the first-container form, or whichever the API server's version allows. */
public enum NativeSidecarMode {
    AUTO, TRUE, FALSE;

    /** @throws IllegalArgumentException naming the accepted values */
    public static NativeSidecarMode parse(String text) {
        return switch (text == null ? "" : text.strip().toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "true" -> TRUE;
            case "false" -> FALSE;
            default -> throw new IllegalArgumentException("'" + text + "' is not one of auto, true, false");
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
