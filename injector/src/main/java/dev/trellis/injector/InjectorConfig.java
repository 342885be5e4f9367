package dev.trellis.injector;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.settings.ClusterDomain;
import dev.trellis.core.settings.Images;
import dev.trellis.core.sidecar.ProxyPorts;
import dev.trellis.core.version.TrellisVersion;
import java.util.Optional;

/**
 * What the injector knows of the mesh it injects into: the control plane's namespace, trust
 * domain and addresses, the trust anchors (PEM, which every proxy gets in its environment: a
 * pod cannot mount a ConfigMap of another namespace), the images, whether the cluster runs
 * native sidecars, and the proxy defaults annotations can override. {@link #builder} holds
 * every default.
 *
 * @param namespace            the control plane's namespace
 * @param trustDomain          the mesh's trust domain
 * @param clusterDomain        the cluster's DNS suffix
 * @param trustAnchorsPem      the trust anchors every proxy verifies against
 * @param proxyImage           the proxy's image
 * @param proxyInitImage       proxy-init's image
 * @param imagePullPolicy      for both
 * @param nativeSidecar        the cluster runs native sidecars (Kubernetes 1.29 and later)
 * @param version              this injector's version, written on what it injects
 * @param defaults             proxy settings unless a namespace or pod annotation says otherwise
 */
public record InjectorConfig(String namespace, String trustDomain, String clusterDomain, String trustAnchorsPem,
                             String proxyImage, String proxyInitImage, String imagePullPolicy, boolean nativeSidecar, String version,
                             ProxyDefaults defaults) {

    /** The uid the proxy runs as; proxy-init lets this uid's traffic pass. */
    public static final long PROXY_UID = ProxyPorts.UID;

    public InjectorConfig {
        requireNonNull(namespace, "namespace");
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(clusterDomain, "clusterDomain");
        requireNonNull(trustAnchorsPem, "trustAnchorsPem");
        requireNonNull(proxyImage, "proxyImage");
        requireNonNull(proxyInitImage, "proxyInitImage");
        requireNonNull(imagePullPolicy, "imagePullPolicy");
        requireNonNull(version, "version");
        requireNonNull(defaults, "defaults");
        if (!trustAnchorsPem.contains("-----BEGIN CERTIFICATE-----")) {
            throw new IllegalArgumentException("injector: the trust anchors are not PEM certificates");
        }
        try {
            // The rules install applies to the same values: what it renders, the injector accepts.
            ClusterDomain.check(clusterDomain);
            Images.pullPolicy(imagePullPolicy);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("injector: " + e.getMessage(), e);
        }
    }

    /**
     * Proxy settings with their defaults; the matching {@code config.trellis.dev/proxy-*}
     * annotations override them per namespace or pod. The memory limit covers what the proxy's
     * JVM may grow to, not what it usually holds: its heap (up to 96 MiB), direct memory (64),
     * metaspace and code (~55) and the JVM's own (~60); a server proxy measured 221-241 MiB RSS
     * after minutes of load before 0.2.0 fixed its heap growth, 180-190 MiB since
     * (docs/benchmarks.md): a 192Mi limit would have OOM-killed the first.
     */
    public record ProxyDefaults(String cpuRequest, Optional<String> cpuLimit, String memoryRequest, String memoryLimit, String logLevel,
                                Optional<String> defaultInboundPolicy) {
        /**
         * The least memory limit under which a proxy is not expected to be OOM-killed: above the
         * 180-241 MiB a proxy was measured to hold after minutes of load (the top of it before
         * 0.2.0's heap-growth fix). {@code trellis check --proxy} warns about proxies limited below it.
         */
        public static final String LEAST_SAFE_MEMORY_LIMIT = "256Mi";

        public static ProxyDefaults standard() {
            return new ProxyDefaults("100m", Optional.empty(), "192Mi", "320Mi", "info", Optional.empty());
        }
    }

    public static Builder builder(String trustAnchorsPem) {
        return new Builder(trustAnchorsPem);
    }

    /** {@code <service>.<namespace>.svc.<cluster domain>:<port>}. */
    String serviceAddress(ControlPlaneComponent component, int port) {
        return component.serviceAccount() + "." + namespace + ".svc." + clusterDomain + ":" + port;
    }

    WorkloadIdentity identityOf(ControlPlaneComponent component) {
        return component.identity(trustDomain, namespace);
    }

    /** Builds {@link InjectorConfig}; starts from every default. */
    public static final class Builder {
        /** Where Trellis's images are published; install and inject default to it. */
        public static final String DEFAULT_REGISTRY = "ghcr.io/trellis-dev";

        private final String trustAnchorsPem;
        private String namespace = ControlPlaneComponent.DEFAULT_NAMESPACE;
        private String trustDomain = WorkloadIdentity.DEFAULT_TRUST_DOMAIN;
        private String clusterDomain = ClusterDomain.DEFAULT;
        private String registry = DEFAULT_REGISTRY;
        private String version = TrellisVersion.current();
        private String proxyImage;
        private String proxyInitImage;
        private String imagePullPolicy = "IfNotPresent";
        private boolean nativeSidecar = true;
        private ProxyDefaults defaults = ProxyDefaults.standard();

        private Builder(String trustAnchorsPem) {
            this.trustAnchorsPem = trustAnchorsPem;
        }

        public Builder namespace(String namespace) {
            this.namespace = namespace;
            return this;
        }

        public Builder trustDomain(String trustDomain) {
            this.trustDomain = trustDomain;
            return this;
        }

        public Builder clusterDomain(String clusterDomain) {
            this.clusterDomain = clusterDomain;
            return this;
        }

        /** Images {@code <registry>/proxy:<version>} and {@code <registry>/proxy-init:<version>}. */
        public Builder images(String registry, String version) {
            this.registry = registry;
            this.version = version;
            return this;
        }

        /** The proxy's image by its full name (install passes it); default {@code <registry>/proxy:<version>}. */
        public Builder proxyImage(String image) {
            this.proxyImage = image;
            return this;
        }

        /** proxy-init's image by its full name; default {@code <registry>/proxy-init:<version>}. */
        public Builder proxyInitImage(String image) {
            this.proxyInitImage = image;
            return this;
        }

        public Builder imagePullPolicy(String imagePullPolicy) {
            this.imagePullPolicy = imagePullPolicy;
            return this;
        }

        public Builder nativeSidecar(boolean nativeSidecar) {
            this.nativeSidecar = nativeSidecar;
            return this;
        }

        public Builder defaults(ProxyDefaults defaults) {
            this.defaults = defaults;
            return this;
        }

        public InjectorConfig build() {
            if (proxyImage == null || proxyInitImage == null) {
                try {
                    Images.registry(registry);
                    Images.tag(version);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("injector: " + e.getMessage(), e);
                }
            }
            return new InjectorConfig(namespace, trustDomain, clusterDomain, trustAnchorsPem,
                    proxyImage != null ? proxyImage : registry + "/proxy:" + version,
                    proxyInitImage != null ? proxyInitImage : registry + "/proxy-init:" + version, imagePullPolicy, nativeSidecar, version, defaults);
        }
    }
}
