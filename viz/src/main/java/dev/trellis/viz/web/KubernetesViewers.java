package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes users as dashboard viewers. {@link #authenticate} asks the API server who a bearer
 * token belongs to (a TokenReview); the viewer's rights are that user's own, asked per namespace
 * with SubjectAccessReviews: a namespace is shown only where the user may {@code list pods}, and
 * live requests only where the user may {@code watch} {@value #TAP_GROUP}'s {@code pods} (as
 * Linkerd's {@code tap.linkerd.io}). Every answer is kept {@link #RIGHTS_TTL} per viewer (at
 * most {@value #MAX_CACHED} per viewer), so a page asks the API server at most once per namespace
 * and right in that time. A review that fails denies. Thread-safe.
 */
public final class KubernetesViewers implements Logins {

    private static final Logger log = LoggerFactory.getLogger(KubernetesViewers.class);

    /** The API group whose {@code pods} a user must be allowed to {@code watch} to see live requests. */
    public static final String TAP_GROUP = "tap.trellis.dev";
    /** How long an answer about a right is kept. */
    public static final Duration RIGHTS_TTL = Duration.ofSeconds(30);
    static final int MAX_CACHED = 1_000;
    /** Longest token sent to the API server. */
    static final int MAX_TOKEN_LENGTH = 16 * 1024;

    private final KubernetesClient client;
    private final Clock clock;

    public KubernetesViewers(KubernetesClient client, Clock clock) {
        this.client = requireNonNull(client, "client");
        this.clock = requireNonNull(clock, "clock");
    }

    @Override
    public Viewer authenticate(String token) throws LoginRefused {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
            throw new LoginRefused("dashboard: no bearer token, or one over " + MAX_TOKEN_LENGTH + " characters");
        }
        TokenReview answer;
        try {
            answer = client.authentication().v1().tokenReviews().create(new TokenReviewBuilder().withNewSpec().withToken(token).endSpec().build());
        } catch (RuntimeException e) {
            throw new LoginRefused("dashboard: the API server's TokenReview failed: " + firstLine(e.getMessage()));
        }
        if (answer == null || answer.getStatus() == null || !Boolean.TRUE.equals(answer.getStatus().getAuthenticated())
                || answer.getStatus().getUser() == null || answer.getStatus().getUser().getUsername() == null) {
            String why = answer == null || answer.getStatus() == null || answer.getStatus().getError() == null ? "not authenticated" : answer.getStatus().getError();
            throw new LoginRefused("dashboard: the API server did not authenticate that token (" + firstLine(why) + ")");
        }
        String user = answer.getStatus().getUser().getUsername();
        List<String> groups = answer.getStatus().getUser().getGroups() == null ? List.of() : List.copyOf(answer.getStatus().getUser().getGroups());
        String uid = answer.getStatus().getUser().getUid();
        return new Viewer(user, groups, new Rights(user, groups, uid));
    }

    /** One user's rights, asked with SubjectAccessReviews and kept a while. */
    private final class Rights implements Viewer.Access {
        private record Question(String namespace, boolean tap) {}

        private record Answer(boolean allowed, Instant asked) {}

        private final String user;
        private final List<String> groups;
        private final String uid;
        private final ConcurrentHashMap<Question, Answer> answers = new ConcurrentHashMap<>();

        Rights(String user, List<String> groups, String uid) {
            this.user = user;
            this.groups = groups;
            this.uid = uid;
        }

        @Override
        public boolean mayView(String namespace) {
            return allowed(new Question(namespace, false));
        }

        @Override
        public boolean mayTap(String namespace) {
            return allowed(new Question(namespace, true));
        }

        private boolean allowed(Question question) {
            Instant now = clock.instant();
            Answer known = answers.get(question);
            if (known != null && known.asked().plus(RIGHTS_TTL).isAfter(now)) {
                return known.allowed();
            }
            if (answers.size() >= MAX_CACHED) {
                answers.values().removeIf(a -> !a.asked().plus(RIGHTS_TTL).isAfter(now));
                if (answers.size() >= MAX_CACHED) {
                    answers.clear();
                }
            }
            boolean allowed = review(question);
            answers.put(question, new Answer(allowed, now));
            return allowed;
        }

        private boolean review(Question question) {
            SubjectAccessReview asked = new SubjectAccessReviewBuilder().withNewSpec()
                    .withUser(user).withGroups(groups).withUid(uid)
                    .withNewResourceAttributes()
                    .withNamespace(question.namespace())
                    .withGroup(question.tap() ? TAP_GROUP : "")
                    .withResource("pods")
                    .withVerb(question.tap() ? "watch" : "list")
                    .endResourceAttributes()
                    .endSpec().build();
            try {
                SubjectAccessReview answer = client.authorization().v1().subjectAccessReview().create(asked);
                return answer != null && answer.getStatus() != null && Boolean.TRUE.equals(answer.getStatus().getAllowed());
            } catch (RuntimeException e) {
                log.warn("dashboard: SubjectAccessReview for {} in namespace {} failed, so denied: {}", user, question.namespace(), firstLine(e.getMessage()));
                return false;
            }
        }

        @Override
        public String toString() {
            return "the Kubernetes rights of " + user;
        }
    }

    private static String firstLine(String text) {
        if (text == null) {
            return "";
        }
        int newline = text.indexOf('\n');
        return dev.trellis.core.text.UntrustedText.printable(newline < 0 ? text : text.substring(0, newline), 200);
    }
}
