package dev.trellis.identity.auth;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;

/**
 * Authenticates callers by their Kubernetes service-account token through the API server's
 * TokenReview, bound to the audience {@value Authenticator#AUDIENCE}.
 *
 * <p>Only a review that the API server answers with {@code authenticated: true} and that
 * lists our audience among {@code status.audiences} passes: a token minted for another
 * audience (or a legacy token the API server accepts for any audience but does not bind to
 * ours) is refused. There is no fallback to a review without an audience. An API server
 * that cannot be reached, or answers with an error, yields {@code UNAVAILABLE}, never an
 * identity.
 */
public final class KubernetesAuthenticator implements Authenticator {

    /** Longest token sent to the API server. */
    public static final int MAX_TOKEN_LENGTH = 16 * 1024;

    private final KubernetesClient client;

    public KubernetesAuthenticator(KubernetesClient client) {
        this.client = requireNonNull(client, "client");
    }

    /** The TokenReview user's extra key that names the pod a projected token is bound to. */
    static final String POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";

    @Override
    public WorkloadIdentity authenticate(String token, String trustDomain) throws AuthenticationException {
        return caller(token, trustDomain).identity();
    }

    @Override
    public Caller caller(String token, String trustDomain) throws AuthenticationException {
        if (token == null || token.isEmpty()) {
            throw unauthenticated("no token");
        }
        if (token.length() > MAX_TOKEN_LENGTH) {
            throw unauthenticated(token.length() + " characters is over the " + MAX_TOKEN_LENGTH + "-character limit");
        }
        TokenReview review = new TokenReviewBuilder()
                .withNewSpec().withToken(token).withAudiences(AUDIENCE).endSpec()
                .build();
        TokenReview answer;
        try {
            answer = client.authentication().v1().tokenReviews().create(review);
        } catch (KubernetesClientException e) {
            throw new AuthenticationException(AuthenticationException.Kind.UNAVAILABLE,
                    "kubernetes: TokenReview failed" + (e.getCode() > 0 ? " with HTTP " + e.getCode() : "") + ": " + firstLine(e.getMessage()), e);
        } catch (RuntimeException e) {
            throw new AuthenticationException(AuthenticationException.Kind.UNAVAILABLE, "kubernetes: TokenReview failed: " + firstLine(e.toString()), e);
        }
        TokenReviewStatus status = answer == null ? null : answer.getStatus();
        if (status == null) {
            throw new AuthenticationException(AuthenticationException.Kind.UNAVAILABLE, "kubernetes: TokenReview answer has no status");
        }
        if (!Boolean.TRUE.equals(status.getAuthenticated())) {
            String error = status.getError();
            throw unauthenticated("token not authenticated" + (error == null || error.isEmpty() ? "" : ": " + firstLine(error)));
        }
        List<String> audiences = status.getAudiences();
        if (audiences == null || !audiences.contains(AUDIENCE)) {
            throw unauthenticated("token is not bound to the audience " + AUDIENCE + " (got " + audiences + ")");
        }
        if (status.getUser() == null || status.getUser().getUsername() == null) {
            throw unauthenticated("TokenReview names no user");
        }
        WorkloadIdentity identity = ServiceAccountNames.parse(status.getUser().getUsername(), trustDomain);
        java.util.Map<String, List<String>> extra = status.getUser().getExtra();
        List<String> pods = extra == null ? null : extra.get(POD_NAME_EXTRA);
        return new Caller(identity, pods == null || pods.size() != 1 ? java.util.Optional.empty() : java.util.Optional.of(pods.get(0)));
    }

    @Override
    public String name() {
        return "kubernetes";
    }

    private static AuthenticationException unauthenticated(String why) {
        return new AuthenticationException(AuthenticationException.Kind.UNAUTHENTICATED, "kubernetes: " + why);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int newline = message.indexOf('\n');
        String line = newline < 0 ? message : message.substring(0, newline);
        return line.length() > 300 ? line.substring(0, 300) + "…" : line;
    }
}
