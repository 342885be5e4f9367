package dev.trellis.core.settings;

import java.util.Set;
import java.util.regex.Pattern;

/**
 * Where the images come from and how they are pulled: a registry path (a host with an
 * optional port, then path components, as an image reference names them — no scheme), a tag,
 * and a pull policy. Install renders them into image names and the injector's flags; the
 * injector renders them into every pod it meshes.
 */
public final class Images {

    public static final Set<String> PULL_POLICIES = Set.of("Always", "IfNotPresent", "Never");

    /** A host ({@code ghcr.io}, {@code registry.local:5000}) then path components ({@code trellis-dev}), as in the distribution spec's grammar. */
    private static final Pattern REGISTRY = Pattern.compile(
            "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?)"
                    + "(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*");
    /** An image tag that is also a label value (the installed objects carry it as {@code app.kubernetes.io/version}). */
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?");

    private Images() {
    }

    /** {@code value}, when it is a registry path such as {@code ghcr.io/trellis-dev}; else {@link IllegalArgumentException} saying why. */
    public static String registry(String value) {
        if (value == null || value.contains("://")) {
            throw new IllegalArgumentException("'" + value + "' is not a registry path: no scheme, just host and path, such as ghcr.io/trellis-dev");
        }
        if (value.length() > 255 || !REGISTRY.matcher(value).matches()) {
            throw new IllegalArgumentException("'" + value + "' is not a registry path such as ghcr.io/trellis-dev or registry.local:5000/mesh "
                    + "(a host, an optional port, then lower-case path parts)");
        }
        return value;
    }

    /**
     * {@code value}, when it is an image tag that can also label objects: up to 63 letters,
     * digits, '_', '.' and '-', starting and ending with a letter or digit.
     */
    public static String tag(String value) {
        if (value == null || !TAG.matcher(value).matches()) {
            throw new IllegalArgumentException("'" + value + "' is not a version tag: up to 63 letters, digits, '_', '.' and '-', starting and ending "
                    + "with a letter or digit (it is the images' tag and the objects' app.kubernetes.io/version label)");
        }
        return value;
    }

    /** {@code value}, when it is one of {@link #PULL_POLICIES}. */
    public static String pullPolicy(String value) {
        if (!PULL_POLICIES.contains(value)) {
            throw new IllegalArgumentException("'" + value + "' is not an image pull policy: Always, IfNotPresent or Never");
        }
        return value;
    }
}
