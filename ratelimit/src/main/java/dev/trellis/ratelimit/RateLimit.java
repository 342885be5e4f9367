package dev.trellis.ratelimit;

/** A token-bucket limit: sustained calls per second and the burst allowed above it. */
public record RateLimit(double perSecond, int burst) {

    public RateLimit {
        if (!(perSecond > 0) || Double.isInfinite(perSecond)) {
            throw new IllegalArgumentException("rate limit: " + perSecond + " calls per second must be a positive number");
        }
        if (burst < 1) {
            throw new IllegalArgumentException("rate limit: burst " + burst + " must be at least 1");
        }
    }

    /** Parses {@code <perSecond>/s} or {@code <perSecond>/s,<burst>}, e.g. {@code 20/s,200}. */
    public static RateLimit parse(String text) {
        String[] parts = text.strip().split(",", -1);
        if (parts.length > 2 || !parts[0].endsWith("/s")) {
            throw new IllegalArgumentException("rate limit: '" + text + "' is not <rate>/s[,<burst>], e.g. 20/s,200");
        }
        try {
            double rate = Double.parseDouble(parts[0].substring(0, parts[0].length() - 2));
            int burst = parts.length == 2 ? Integer.parseInt(parts[1].strip()) : Math.max(1, (int) Math.ceil(rate));
            return new RateLimit(rate, burst);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("rate limit: '" + text + "' is not <rate>/s[,<burst>], e.g. 20/s,200");
        }
    }

    @Override
    public String toString() {
        return (perSecond == Math.rint(perSecond) ? String.valueOf((long) perSecond) : String.valueOf(perSecond)) + "/s," + burst;
    }
}
