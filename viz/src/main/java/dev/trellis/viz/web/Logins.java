package dev.trellis.viz.web;

/**
 * Who a bearer token belongs to, for {@code POST /login/token}: the CLI sends the user's own
 * token and gets a one-time login link for that user. On Kubernetes, {@link KubernetesViewers}
 * (TokenReview, and the user's rights from SubjectAccessReviews); {@link #NONE} where the
 * dashboard logs in only with codes minted by the metrics API.
 */
public interface Logins {

    /** The token was not accepted: the message says why, without the token. */
    final class LoginRefused extends Exception {
        public LoginRefused(String message) {
            super(message);
        }
    }

    /** The viewer {@code token} proves; may block (a TokenReview is an API call). */
    Viewer authenticate(String token) throws LoginRefused;

    /** No token logins. */
    Logins NONE = token -> {
        throw new LoginRefused("dashboard: this dashboard takes no token logins; use the link `trellis viz dashboard` prints");
    };
}
