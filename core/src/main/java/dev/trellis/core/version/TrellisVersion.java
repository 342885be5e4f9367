package dev.trellis.core.version;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The version of this build, filled in by Maven from the parent POM's {@code trellis.version}. */
public final class TrellisVersion {

    private static final String VERSION = load();

    private TrellisVersion() {}

    /** e.g. {@code 0.1.0}. */
    public static String current() {
        return VERSION;
    }

    private static String load() {
        try (InputStream in = TrellisVersion.class.getResourceAsStream("trellis-version.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties properties = new Properties();
            properties.load(in);
            return properties.getProperty("version", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
