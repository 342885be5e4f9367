package dev.trellis.install.check;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Can the CLI reach the API server, and is the cluster new enough for Trellis. */
final class KubernetesApiChecks {

    static final String HINT = "docs/install.md#check-kubernetes-api";
    /** EndpointSlice v1, bound projected tokens, Pod Security labels and sidecar-friendly probes are all there by 1.27. */
    static final int MIN_MINOR = 27;

    private KubernetesApiChecks() {
    }

    /** The API server's version, or empty when it cannot be reached (the other categories then do not run). */
    static Optional<VersionInfo> run(KubernetesClient client, List<CheckReport.Category> into) {
        List<CheckResult> api = new ArrayList<>();
        api.add(CheckResult.ok("can initialize the client (" + client.getMasterUrl() + ")"));
        VersionInfo version;
        try {
            version = client.getKubernetesVersion();
        } catch (RuntimeException e) {
            api.add(CheckResult.error("can query the Kubernetes API", Causes.message(e), HINT));
            into.add(new CheckReport.Category("kubernetes-api", api));
            return Optional.empty();
        }
        api.add(CheckResult.ok("can query the Kubernetes API"));
        into.add(new CheckReport.Category("kubernetes-api", api));

        List<CheckResult> versionChecks = new ArrayList<>();
        String description = "is running the minimum Kubernetes API version (1." + MIN_MINOR + ")";
        int major = leadingNumber(version.getMajor());
        int minor = leadingNumber(version.getMinor());
        if (major > 1 || (major == 1 && minor >= MIN_MINOR)) {
            versionChecks.add(CheckResult.ok(description));
        } else {
            versionChecks.add(CheckResult.error(description, "the API server runs " + version.getGitVersion() + " (" + version.getMajor() + "." + version.getMinor() + ")", HINT));
        }
        into.add(new CheckReport.Category("kubernetes-version", versionChecks));
        return Optional.of(version);
    }

    /** "28+" (as some providers write the minor version) is 28. */
    private static int leadingNumber(String text) {
        String digits = text == null ? "" : text.replaceAll("^(\\d+).*$", "$1");
        try {
            return Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
