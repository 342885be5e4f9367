package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * Who is looking, and what they may see: a user name (as Kubernetes authenticated it, or the
 * demo's operator) and the rights that decide, per namespace, what the dashboard shows.
 */
public record Viewer(String user, List<String> groups, Access access) {

    public Viewer {
        requireNonNull(user, "user");
        groups = List.copyOf(groups);
        requireNonNull(access, "access");
    }

    /**
     * A viewer's rights per namespace. On Kubernetes these come from SubjectAccessReviews of the
     * user's own rights; the demo's one-time link grants everything. Implementations may block
     * (a review is an API call) and must be thread-safe.
     */
    public interface Access {
        /** May see golden metrics, workloads and topology of {@code namespace} (may list pods there). */
        boolean mayView(String namespace);

        /** May watch live requests in {@code namespace} (may watch the tap resource there). */
        boolean mayTap(String namespace);

        /** Everything: the demo's operator, or the holder of the metrics API's token. */
        Access EVERYTHING = new Access() {
            @Override
            public boolean mayView(String namespace) {
                return true;
            }

            @Override
            public boolean mayTap(String namespace) {
                return true;
            }

            @Override
            public String toString() {
                return "everything";
            }
        };
    }
}
