package dev.trellis.core.time;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as operators write them in flags and manifests: {@code 100ms}, {@code 5s}, {@code 10m}, {@code 24h}, {@code 365d}, or ISO-8601. */
public final class DurationText {

    private static final Pattern SIMPLE = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");

    private DurationText() {
    }

    /** @throws IllegalArgumentException naming the text when it is not a duration */
    public static Duration parse(String value) {
        Matcher matcher = SIMPLE.matcher(value.strip());
        if (matcher.matches()) {
            long amount = Long.parseLong(matcher.group(1));
            return switch (matcher.group(2)) {
                case "ms" -> Duration.ofMillis(amount);
                case "s" -> Duration.ofSeconds(amount);
                case "m" -> Duration.ofMinutes(amount);
                case "h" -> Duration.ofHours(amount);
                default -> Duration.ofDays(amount);
            };
        }
        try {
            return Duration.parse(value.strip());
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("'" + value + "' is not a duration (e.g. 100ms, 5s, 10m, 24h, 365d)");
        }
    }
}
