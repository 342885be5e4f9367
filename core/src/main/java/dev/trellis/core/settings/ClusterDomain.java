package dev.trellis.core.settings;

import java.util.regex.Pattern;

/** The cluster's DNS suffix ({@code cluster.local}): a DNS name of lower-case labels, as Kubernetes requires of a subdomain. */
public final class ClusterDomain {

    public static final String DEFAULT = "cluster.local";

    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    private ClusterDomain() {
    }

    /** {@code value}, when it is a DNS name of at most 253 characters; else {@link IllegalArgumentException} saying what is wrong. */
    public static String check(String value) {
        if (value == null || value.isEmpty() || value.length() > 253) {
            throw new IllegalArgumentException("'" + value + "' is not a cluster domain: 1 to 253 characters, such as " + DEFAULT);
        }
        for (String label : value.split("\\.", -1)) {
            if (!LABEL.matcher(label).matches()) {
                throw new IllegalArgumentException("'" + value + "' is not a cluster domain: each dot-separated part is 1 to 63 lower-case letters, digits or "
                        + "'-', starting and ending with a letter or digit (such as " + DEFAULT + ")");
            }
        }
        return value;
    }
}
