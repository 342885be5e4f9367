package dev.trellis.install.check;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * One check: what it verifies (a sentence that is true when it passes), how it came out, what
 * was found when it did not pass, and where the docs say what to do.
 */
public record CheckResult(String description, Outcome outcome, Optional<String> detail, Optional<String> hint) {

    public CheckResult {
        requireNonNull(description, "description");
        requireNonNull(outcome, "outcome");
        requireNonNull(detail, "detail");
        requireNonNull(hint, "hint");
    }

    static CheckResult ok(String description) {
        return new CheckResult(description, Outcome.OK, Optional.empty(), Optional.empty());
    }

    static CheckResult warning(String description, String detail, String hint) {
        return new CheckResult(description, Outcome.WARNING, Optional.of(detail), Optional.of(hint));
    }

    static CheckResult error(String description, String detail, String hint) {
        return new CheckResult(description, Outcome.ERROR, Optional.of(detail), Optional.of(hint));
    }
}
