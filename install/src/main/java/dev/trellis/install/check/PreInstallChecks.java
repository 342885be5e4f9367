package dev.trellis.install.check;

import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Before {@code trellis install}: the namespace is free, the caller may create everything the
 * install creates (asked of the API server with SelfSubjectAccessReviews, never by trying),
 * and this machine's clock agrees with the API server's (certificates are judged by clocks).
 */
final class PreInstallChecks {

    static final String HINT = "docs/install.md#check-pre-install";
    /** Beyond this, freshly issued certificates look not yet valid or expired to one side. */
    static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(5);

    /** Group, resource, namespaced: what {@code trellis install} creates. */
    private record Resource(String group, String resource, boolean namespaced) {}

    private static final List<Resource> CREATED = List.of(
            new Resource("", "namespaces", false),
            new Resource("apiextensions.k8s.io", "customresourcedefinitions", false),
            new Resource("rbac.authorization.k8s.io", "clusterroles", false),
            new Resource("rbac.authorization.k8s.io", "clusterrolebindings", false),
            new Resource("admissionregistration.k8s.io", "mutatingwebhookconfigurations", false),
            new Resource("", "serviceaccounts", true),
            new Resource("", "configmaps", true),
            new Resource("", "secrets", true),
            new Resource("", "services", true),
            new Resource("apps", "deployments", true),
            new Resource("networking.k8s.io", "networkpolicies", true),
            new Resource("policy", "poddisruptionbudgets", true));

    private PreInstallChecks() {
    }

    static CheckReport.Category run(KubernetesClient client, String namespace, Clock clock) {
        List<CheckResult> results = new ArrayList<>();
        if (client.namespaces().withName(namespace).get() != null) {
            results.add(CheckResult.error("control plane namespace does not already exist",
                    "namespace " + namespace + " exists; uninstall first or pass another --namespace", HINT));
        } else {
            results.add(CheckResult.ok("control plane namespace does not already exist"));
        }
        results.add(canCreate(client, namespace, false, "can create non-namespaced resources"));
        results.add(canCreate(client, namespace, true, "can create namespaced resources in " + namespace));
        results.add(clockSkew(client, clock));
        return new CheckReport.Category("pre-install", results);
    }

    private static CheckResult canCreate(KubernetesClient client, String namespace, boolean namespaced, String description) {
        List<String> denied = new ArrayList<>();
        for (Resource resource : CREATED) {
            if (resource.namespaced() != namespaced) {
                continue;
            }
            SelfSubjectAccessReview review = new SelfSubjectAccessReviewBuilder().withNewSpec().withNewResourceAttributes()
                    .withGroup(resource.group()).withResource(resource.resource()).withVerb("create")
                    .withNamespace(namespaced ? namespace : null)
                    .endResourceAttributes().endSpec().build();
            try {
                SelfSubjectAccessReview answer = client.authorization().v1().selfSubjectAccessReview().create(review);
                if (answer.getStatus() == null || !Boolean.TRUE.equals(answer.getStatus().getAllowed())) {
                    denied.add(qualified(resource) + (answer.getStatus() != null && answer.getStatus().getReason() != null ? " (" + answer.getStatus().getReason() + ")" : ""));
                }
            } catch (RuntimeException e) {
                denied.add(qualified(resource) + " (cannot ask: " + Causes.message(e) + ")");
            }
        }
        return denied.isEmpty() ? CheckResult.ok(description)
                : CheckResult.error(description, "not allowed to create " + String.join(", ", denied), HINT);
    }

    private static String qualified(Resource resource) {
        return resource.group().isEmpty() ? resource.resource() : resource.resource() + "." + resource.group();
    }

    private static CheckResult clockSkew(KubernetesClient client, Clock clock) {
        String description = "this machine's clock is within " + MAX_CLOCK_SKEW.toMinutes() + " minutes of the API server's";
        try {
            Instant sent = clock.instant();
            HttpResponse<String> response = client.getHttpClient()
                    .sendAsync(client.getHttpClient().newHttpRequestBuilder().uri(client.getMasterUrl() + "version").timeout(5, TimeUnit.SECONDS).build(), String.class)
                    .get(10, TimeUnit.SECONDS);
            Instant received = clock.instant();
            String date = response.header("Date");
            if (date == null) {
                return CheckResult.warning(description, "the API server's answer has no Date header; compare the clocks by hand", HINT);
            }
            Instant server = ZonedDateTime.parse(date, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            Instant local = sent.plus(Duration.between(sent, received).dividedBy(2));
            Duration skew = Duration.between(local, server).abs();
            // The Date header has whole seconds.
            return skew.compareTo(MAX_CLOCK_SKEW.plusSeconds(1)) <= 0 ? CheckResult.ok(description)
                    : CheckResult.error(description, "the clocks differ by " + skew.toSeconds() + " s (here " + local + ", API server " + server + ")", HINT);
        } catch (Exception e) {
            return CheckResult.warning(description, "cannot ask the API server for its time: " + Causes.message(e), HINT);
        }
    }
}
