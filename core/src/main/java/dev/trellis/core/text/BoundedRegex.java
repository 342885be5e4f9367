package dev.trellis.core.text;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Regular expressions that users write into routes, kept cheap to run. Java's engine
 * backtracks, so a pattern such as {@code (a+)+$} takes exponential time on a crafted input;
 * {@link #compile} refuses the shapes that do that (a repeated group that itself repeats or
 * alternates, back-references, look-around, long or huge counted repetitions), and
 * {@link #matches} bounds what any pattern may cost on one input (a budget of characters the
 * engine may read), answering no match when it runs out. Both sides use it: the control plane
 * to refuse a route with a clear reason, the proxy as the last line. Stateless.
 */
public final class BoundedRegex {

    /** Longest pattern accepted. */
    public static final int MAX_LENGTH = 256;
    /** Largest count in a {@code {n,m}} repetition. */
    public static final int MAX_REPEAT = 100;
    /** Characters the engine may read per character of input, plus a floor: far beyond what a linear pattern needs. */
    static final int STEPS_PER_CHAR = 64;
    static final int MIN_STEPS = 4_096;

    private BoundedRegex() {
    }

    /**
     * Compiles {@code regex} as the proxy runs it (whole-input match).
     *
     * @throws IllegalArgumentException naming what makes the pattern unusable or too expensive
     */
    public static Pattern compile(String regex) {
        if (regex.length() > MAX_LENGTH) {
            throw new IllegalArgumentException("regular expression is " + regex.length() + " characters long; at most " + MAX_LENGTH);
        }
        Pattern pattern;
        try {
            pattern = Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("'" + regex + "' is not a regular expression: " + e.getDescription());
        }
        checkCost(regex);
        return pattern;
    }

    /** Whether {@code pattern} matches all of {@code input}; {@code false} when matching would cost more than its budget. */
    public static boolean matches(Pattern pattern, CharSequence input) {
        try {
            return pattern.matcher(new Budgeted(input, Math.max(MIN_STEPS, (long) input.length() * STEPS_PER_CHAR))).matches();
        } catch (BudgetExceeded e) {
            return false;
        }
    }

    private static final class Frame {
        boolean repeats;
        boolean alternates;
    }

    /** Refuses back-references, look-around, and a repeated group whose body repeats or alternates. */
    private static void checkCost(String regex) {
        Deque<Frame> groups = new ArrayDeque<>();
        Frame top = new Frame();
        Frame lastClosed = null;
        int i = 0;
        while (i < regex.length()) {
            char c = regex.charAt(i);
            Frame closed = null;
            switch (c) {
                case '\\' -> {
                    if (i + 1 < regex.length()) {
                        char next = regex.charAt(i + 1);
                        if ((next >= '1' && next <= '9') || next == 'k') {
                            throw new IllegalArgumentException("back-references are not allowed (they make matching exponential)");
                        }
                        if ((next == 'p' || next == 'P') && i + 2 < regex.length() && regex.charAt(i + 2) == '{') {
                            i = regex.indexOf('}', i) + 1;
                            lastClosed = null;
                            continue;
                        }
                        if (next == 'Q') {
                            int end = regex.indexOf("\\E", i + 2);
                            i = end < 0 ? regex.length() : end + 2;
                            lastClosed = null;
                            continue;
                        }
                    }
                    i += 2;
                    lastClosed = null;
                    continue;
                }
                case '[' -> {
                    i = skipClass(regex, i);
                    lastClosed = null;
                    continue;
                }
                case '(' -> {
                    if (regex.startsWith("(?=", i) || regex.startsWith("(?!", i) || regex.startsWith("(?<=", i) || regex.startsWith("(?<!", i)) {
                        throw new IllegalArgumentException("look-ahead and look-behind are not allowed");
                    }
                    groups.push(top);
                    top = new Frame();
                }
                case ')' -> {
                    closed = top;
                    top = groups.isEmpty() ? new Frame() : groups.pop();
                    top.repeats |= closed.repeats;
                }
                case '|' -> top.alternates = true;
                case '*', '+', '?', '{' -> {
                    int end = i + 1;
                    boolean unbounded = c != '?';
                    if (c == '{') {
                        end = regex.indexOf('}', i);
                        String[] counts = regex.substring(i + 1, end).split(",", -1);
                        int low = Integer.parseInt(counts[0].strip());
                        int high = counts.length == 1 ? low : counts[1].isBlank() ? Integer.MAX_VALUE : Integer.parseInt(counts[1].strip());
                        if (low > MAX_REPEAT || (high != Integer.MAX_VALUE && high > MAX_REPEAT)) {
                            throw new IllegalArgumentException("a repetition count above " + MAX_REPEAT + " is not allowed");
                        }
                        unbounded = high > 1;
                        end++;
                    }
                    if (unbounded && lastClosed != null && (lastClosed.repeats || lastClosed.alternates)) {
                        throw new IllegalArgumentException("a repeated group that itself repeats or alternates, such as (a+)+ or (a|b)*,"
                                + " is not allowed (it can make matching exponential)");
                    }
                    if (unbounded) {
                        top.repeats = true;
                    }
                    // A lazy or possessive marker belongs to this quantifier.
                    if (end < regex.length() && (regex.charAt(end) == '?' || regex.charAt(end) == '+')) {
                        end++;
                    }
                    i = end;
                    lastClosed = null;
                    continue;
                }
                default -> { }
            }
            lastClosed = closed;
            i++;
        }
    }

    private static int skipClass(String regex, int open) {
        int depth = 0;
        int i = open;
        while (i < regex.length()) {
            char c = regex.charAt(i);
            if (c == '\\') {
                i += 2;
                continue;
            }
            if (c == '[') {
                depth++;
            } else if (c == ']' && i > open + 1) {
                if (--depth == 0) {
                    return i + 1;
                }
            }
            i++;
        }
        return i;
    }

    private static final class BudgetExceeded extends RuntimeException {
        BudgetExceeded() {
            super(null, null, false, false);
        }
    }

    /** The input as the engine reads it, one step per character read. */
    private static final class Budgeted implements CharSequence {
        private final CharSequence text;
        private final long[] left;

        Budgeted(CharSequence text, long budget) {
            this(text, new long[] {budget});
        }

        private Budgeted(CharSequence text, long[] left) {
            this.text = text;
            this.left = left;
        }

        @Override
        public char charAt(int index) {
            if (--left[0] < 0) {
                throw new BudgetExceeded();
            }
            return text.charAt(index);
        }

        @Override
        public int length() {
            return text.length();
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return new Budgeted(text.subSequence(start, end), left);
        }

        @Override
        public String toString() {
            return text.toString();
        }
    }
}
