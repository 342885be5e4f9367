package dev.trellis.testing.cluster;

import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatusBuilder;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The simulated API server's service-account tokens: the kubelet side mints them (for
 * projected volumes and the automounted API token), and TokenReview answers for them —
 * authenticated as {@code system:serviceaccount:<ns>:<sa>}, bound to the audience asked for at
 * minting, and nothing else. Unknown tokens are not authenticated. Thread-safe.
 */
final class ServiceAccountTokens {

    /** Who a token was minted for; {@code pod}: the pod it is bound to (a projected token), or empty. */
    record Subject(String namespace, String serviceAccount, String audience, Optional<String> pod) {}

    private final Map<String, Subject> minted = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

    String mint(String namespace, String serviceAccount, String audience) {
        return mint(namespace, serviceAccount, audience, Optional.empty());
    }

    /** A token bound to {@code pod}: its review names the pod ({@code authentication.kubernetes.io/pod-name}), as the API server's does. */
    String mint(String namespace, String serviceAccount, String audience, Optional<String> pod) {
        byte[] bytes = new byte[24];
        random.nextBytes(bytes);
        String token = "simulated." + HexFormat.of().formatHex(bytes);
        minted.put(token, new Subject(namespace, serviceAccount, audience, pod));
        return token;
    }

    /** The answer to {@code review}: its spec, and the status for its token and audiences. */
    TokenReview answer(TokenReview review) {
        String token = review.getSpec() == null ? null : review.getSpec().getToken();
        List<String> audiences = review.getSpec() == null || review.getSpec().getAudiences() == null ? List.of() : review.getSpec().getAudiences();
        Optional<Subject> subject = Optional.ofNullable(token).map(minted::get);
        TokenReviewStatusBuilder status = new TokenReviewStatusBuilder();
        if (subject.isEmpty()) {
            status.withAuthenticated(false).withError("unknown token");
        } else if (!audiences.isEmpty() && !audiences.contains(subject.get().audience())) {
            status.withAuthenticated(false).withError("token audience does not match");
        } else {
            Subject s = subject.get();
            status.withAuthenticated(true).withAudiences(s.audience()).withNewUser()
                    .withUsername("system:serviceaccount:" + s.namespace() + ":" + s.serviceAccount())
                    .withGroups("system:serviceaccounts", "system:serviceaccounts:" + s.namespace())
                    .withExtra(s.pod().map(pod -> Map.of("authentication.kubernetes.io/pod-name", List.of(pod))).orElse(Map.of()))
                    .endUser();
        }
        return new TokenReviewBuilder(review).withStatus(status.build()).build();
    }
}
