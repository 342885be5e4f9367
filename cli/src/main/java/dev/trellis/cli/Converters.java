package dev.trellis.cli;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** Flag value converters shared by the subcommands. */
final class Converters {

    private Converters() {}

    /** Durations as operators write them: {@code 100ms}, {@code 5s}, {@code 10m}, {@code 24h}, {@code 365d}, or ISO-8601. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {

        private static final Pattern SIMPLE = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");

        @Override
        public Duration convert(String value) {
            return parse(value);
        }

        static Duration parse(String value) {
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
                return Duration.parse(value);
            } catch (DateTimeParseException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a duration (e.g. 100ms, 5s, 10m, 24h, 365d)");
            }
        }
    }
}
