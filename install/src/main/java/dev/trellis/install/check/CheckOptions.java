package dev.trellis.install.check;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import java.time.Duration;

/**
 * What {@code trellis check} looks at.
 *
 * @param namespace     the control plane's namespace
 * @param trustDomain   the mesh's trust domain
 * @param clusterDomain the cluster's DNS suffix
 * @param preInstall    check that the control plane can be installed, instead of that it is
 * @param expiryWarning warn when a certificate expires within this (60 days by default)
 * @param injector      the installation has the proxy injector (install's {@code --injector}, true by default)
 * @param proxies       also check the data plane: the pods this control plane meshes
 */
public record CheckOptions(String namespace, String trustDomain, String clusterDomain, boolean preInstall, Duration expiryWarning,
                           boolean injector, boolean proxies) {

    /** Linkerd's lesson: expired trust anchors are the most common outage; warn two months ahead. */
    public static final Duration DEFAULT_EXPIRY_WARNING = Duration.ofDays(60);

    public CheckOptions {
        requireNonNull(namespace, "namespace");
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(clusterDomain, "clusterDomain");
        requireNonNull(expiryWarning, "expiryWarning");
    }

    /** The control plane in the default namespace and trust domain, checked as installed. */
    public static CheckOptions defaults() {
        return new CheckOptions(ControlPlaneComponent.DEFAULT_NAMESPACE, WorkloadIdentity.DEFAULT_TRUST_DOMAIN, "cluster.local", false, DEFAULT_EXPIRY_WARNING, true, false);
    }

    public CheckOptions withPreInstall(boolean preInstall) {
        return new CheckOptions(namespace, trustDomain, clusterDomain, preInstall, expiryWarning, injector, proxies);
    }

    public CheckOptions withInjector(boolean injector) {
        return new CheckOptions(namespace, trustDomain, clusterDomain, preInstall, expiryWarning, injector, proxies);
    }

    public CheckOptions withProxies(boolean proxies) {
        return new CheckOptions(namespace, trustDomain, clusterDomain, preInstall, expiryWarning, injector, proxies);
    }

    public CheckOptions withInstallation(String namespace, String trustDomain, String clusterDomain) {
        return new CheckOptions(namespace, trustDomain, clusterDomain, preInstall, expiryWarning, injector, proxies);
    }
}
