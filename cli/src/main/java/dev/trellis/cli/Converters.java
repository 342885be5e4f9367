package dev.trellis.cli;

import dev.trellis.core.time.DurationText;
import java.time.Duration;
import picocli.CommandLine;

/** Flag value converters shared by the subcommands. */
final class Converters {

    private Converters() {}

    /** Durations as operators write them: {@code 100ms}, {@code 5s}, {@code 10m}, {@code 24h}, {@code 365d}, or ISO-8601. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {

        @Override
        public Duration convert(String value) {
            return parse(value);
        }

        static Duration parse(String value) {
            try {
                return DurationText.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
