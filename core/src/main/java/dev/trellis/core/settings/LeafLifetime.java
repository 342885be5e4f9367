package dev.trellis.core.settings;

import dev.trellis.core.time.DurationText;
import java.time.Duration;

/**
 * How long the certificates the identity service issues to proxies live. Proxies renew at 70 %
 * of it; below {@link #MIN} they would do little else (tests and demos use seconds), above
 * {@link #MAX} a stolen key stays useful too long.
 */
public final class LeafLifetime {

    public static final Duration MIN = Duration.ofSeconds(2);
    public static final Duration MAX = Duration.ofDays(365);
    public static final Duration DEFAULT = Duration.ofHours(24);

    private LeafLifetime() {
    }

    /** {@code value}, when it is within {@link #MIN} and {@link #MAX}; else {@link IllegalArgumentException} saying so. */
    public static Duration check(Duration value) {
        if (value == null || value.compareTo(MIN) < 0 || value.compareTo(MAX) > 0) {
            throw new IllegalArgumentException("leaf lifetime " + (value == null ? null : DurationText.format(value)) + " is not between "
                    + DurationText.format(MIN) + " and " + DurationText.format(MAX));
        }
        return value;
    }
}
