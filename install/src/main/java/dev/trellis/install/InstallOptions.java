package dev.trellis.install;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.settings.ClusterDomain;
import dev.trellis.core.settings.DefaultInboundPolicy;
import dev.trellis.core.settings.Images;
import dev.trellis.core.settings.LeafLifetime;
import dev.trellis.core.settings.NativeSidecarMode;
import dev.trellis.core.version.TrellisVersion;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.ServingCertificates;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Everything {@code trellis install} renders from; {@link #builder} holds every default, in
 * one place (docs/install.md lists them with their flags).
 *
 * @param namespace              where the control plane runs
 * @param trustDomain            the mesh's trust domain
 * @param clusterDomain          the cluster's DNS suffix
 * @param registry               image registry and path, e.g. {@code ghcr.io/trellis-dev}
 * @param version                image tag, by default this CLI's version
 * @param imagePullPolicy        Always, IfNotPresent or Never
 * @param ha                     three replicas of identity and destination, spread over
 *                               nodes, with PodDisruptionBudgets
 * @param identity               trust anchors, and the issuer unless an external one
 *                               (cert-manager) writes it
 * @param controllerUid          the non-zero uid and gid control-plane containers run as
 * @param defaultInboundPolicy   the destination service's policy for ports no Server covers
 * @param strictVisibility       the destination service's strict visibility
 * @param leafLifetime           lifetime of the certificates the identity service issues
 * @param webhook                the injector's webhook CA and serving certificate; empty:
 *                               no injector ({@code --injector=false})
 * @param nativeSidecar          how the injector adds proxies: auto (by the API server's
 *                               version), true or false
 * @param prometheusImage        the Prometheus run beside viz in its pod (an upstream image, pinned);
 *                               empty: none, viz scrapes the proxies itself ({@code --prometheus=false})
 * @param nodeMode               render node mode's DaemonSets (node agent, node proxy) and let the
 *                               identity service serve node proxies ({@code --node-mode})
 */
public record InstallOptions(
        String namespace,
        String trustDomain,
        String clusterDomain,
        String registry,
        String version,
        String imagePullPolicy,
        boolean ha,
        IdentityMaterial identity,
        long controllerUid,
        DefaultInboundPolicy defaultInboundPolicy,
        boolean strictVisibility,
        Duration leafLifetime,
        Optional<WebhookTls> webhook,
        NativeSidecarMode nativeSidecar,
        Optional<String> prometheusImage,
        boolean nodeMode) {

    /**
     * Each value by the rule the component that reads it applies ({@code dev.trellis.core.settings},
     * {@link WorkloadIdentity}): what install renders, the control plane runs with. The message
     * names the flag.
     */
    public InstallOptions {
        requireNonNull(identity, "identity");
        requireNonNull(defaultInboundPolicy, "defaultInboundPolicy");
        requireNonNull(webhook, "webhook");
        requireNonNull(nativeSidecar, "nativeSidecar");
        requireNonNull(prometheusImage, "prometheusImage");
        prometheusImage.ifPresent(image -> {
            if (image.isBlank() || image.length() > 255 || image.chars().anyMatch(c -> c <= ' ' || c > '~')) {
                throw new IllegalArgumentException("install: --prometheus-image '" + dev.trellis.core.text.UntrustedText.printable(image, 60)
                        + "' is not an image reference");
            }
        });
        // the namespace and trust domain as every control-plane identity will spell them
        checked("--namespace", () -> WorkloadIdentity.checkNamespace(namespace));
        checked("--trust-domain", () -> WorkloadIdentity.checkTrustDomain(trustDomain));
        checked("--trust-domain", () -> new WorkloadIdentity(trustDomain, namespace, ControlPlaneComponent.IDENTITY.serviceAccount()));
        checked("--version", () -> Images.tag(version));
        checked("--registry", () -> Images.registry(registry));
        checked("--image-pull-policy", () -> Images.pullPolicy(imagePullPolicy));
        checked("--cluster-domain", () -> ClusterDomain.check(clusterDomain));
        checked("--identity-leaf-lifetime", () -> LeafLifetime.check(leafLifetime));
        if (controllerUid < 1 || controllerUid > 65534) {
            throw new IllegalArgumentException("install: --controller-uid " + controllerUid + " must be a non-zero uid below 65535");
        }
    }

    private static void checked(String flag, Runnable rule) {
        flag(flag, () -> {
            rule.run();
            return null;
        });
    }

    /** {@code rule}'s value, or its error as install says it: naming {@code flag}. For the CLI's parsing too. */
    public static <T> T flag(String flag, java.util.function.Supplier<T> rule) {
        try {
            return rule.get();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("install: " + flag + ": " + e.getMessage(), e);
        }
    }

    /**
     * The admission webhook's own PKI, PEM: the CA (the webhook configuration's caBundle) and
     * the serving certificate and key for the injector's Service names. Not the mesh's trust
     * anchor: a mesh identity can never pass for the webhook.
     */
    public record WebhookTls(String caPem, String certificatePem, String keyPem) {
        /** CA and certificate lifetime: a year; {@code trellis check} warns 60 days before the end, re-running install renews. */
        public static final Duration LIFETIME = Duration.ofDays(365);

        public WebhookTls {
            requireNonNull(caPem, "caPem");
            requireNonNull(certificatePem, "certificatePem");
            requireNonNull(keyPem, "keyPem");
        }

        /** The name the API server calls the webhook by, which its serving certificate must carry. */
        public static String serviceName(String namespace) {
            return ControlPlaneComponent.INJECTOR.serviceAccount() + "." + namespace + ".svc";
        }

        /** A new CA and a serving certificate for the injector Service of {@code namespace}. */
        public static WebhookTls generate(String namespace, String clusterDomain, Instant now) {
            CaCredentials ca = ServingCertificates.newCa("webhook.trellis." + namespace, LIFETIME, now);
            String service = serviceName(namespace);
            ServingCertificates.Serving serving = ServingCertificates.issue(ca,
                    List.of(service, service + "." + clusterDomain), LIFETIME, now);
            return new WebhookTls(Pem.encodeCertificates(List.of(ca.certificate())),
                    Pem.encodeCertificates(List.of(serving.certificate())),
                    Pem.encodePrivateKey(serving.key()));
        }
    }

    /** Every default; the identity material has none and must be given. */
    public static Builder builder(IdentityMaterial identity) {
        return new Builder(identity);
    }

    /** The identity of {@code component} in this installation. */
    public WorkloadIdentity identityOf(ControlPlaneComponent component) {
        return component.identity(trustDomain, namespace);
    }

    /** {@code <service>.<namespace>.svc.<cluster domain>}: how pods reach a control-plane Service. */
    public String serviceHost(String service) {
        return service + "." + namespace + ".svc." + clusterDomain;
    }

    /**
     * The mesh's trust anchors (PEM), and the issuer certificate and key (PEM) that {@code trellis
     * install} writes into the issuer Secret — or none, when an external issuer (cert-manager)
     * writes that Secret.
     */
    public record IdentityMaterial(String trustAnchorsPem, Optional<Issuer> issuer) {

        public IdentityMaterial {
            requireNonNull(trustAnchorsPem, "trustAnchorsPem");
            requireNonNull(issuer, "issuer");
        }

        /** The issuer's certificate (first, then any chain above it) and private key, PEM. */
        public record Issuer(String certificatePem, String keyPem) {
            public Issuer {
                requireNonNull(certificatePem, "certificatePem");
                requireNonNull(keyPem, "keyPem");
            }
        }
    }

    /** Builds {@link InstallOptions}; starts from every default. */
    public static final class Builder {
        public static final String DEFAULT_REGISTRY = dev.trellis.injector.InjectorConfig.Builder.DEFAULT_REGISTRY;
        /** The Prometheus beside viz: the official image, pinned. */
        public static final String DEFAULT_PROMETHEUS_IMAGE = "prom/prometheus:v2.53.4";
        /** The uid control-plane containers run as (the proxy runs as 2102). */
        public static final long DEFAULT_CONTROLLER_UID = 2103;

        private final IdentityMaterial identity;
        private String namespace = ControlPlaneComponent.DEFAULT_NAMESPACE;
        private String trustDomain = WorkloadIdentity.DEFAULT_TRUST_DOMAIN;
        private String clusterDomain = ClusterDomain.DEFAULT;
        private String registry = DEFAULT_REGISTRY;
        private String version = TrellisVersion.current();
        private String imagePullPolicy = "IfNotPresent";
        private boolean ha;
        private long controllerUid = DEFAULT_CONTROLLER_UID;
        private DefaultInboundPolicy defaultInboundPolicy = DefaultInboundPolicy.ALL_UNAUTHENTICATED;
        private boolean strictVisibility;
        private Duration leafLifetime = LeafLifetime.DEFAULT;
        private Optional<WebhookTls> webhook = Optional.empty();
        private NativeSidecarMode nativeSidecar = NativeSidecarMode.AUTO;
        private Optional<String> prometheusImage = Optional.of(DEFAULT_PROMETHEUS_IMAGE);
        private boolean nodeMode;

        private Builder(IdentityMaterial identity) {
            this.identity = requireNonNull(identity, "identity");
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

        public Builder registry(String registry) {
            this.registry = registry;
            return this;
        }

        public Builder version(String version) {
            this.version = version;
            return this;
        }

        public Builder imagePullPolicy(String imagePullPolicy) {
            this.imagePullPolicy = imagePullPolicy;
            return this;
        }

        public Builder ha(boolean ha) {
            this.ha = ha;
            return this;
        }

        public Builder controllerUid(long controllerUid) {
            this.controllerUid = controllerUid;
            return this;
        }

        public Builder defaultInboundPolicy(DefaultInboundPolicy defaultInboundPolicy) {
            this.defaultInboundPolicy = defaultInboundPolicy;
            return this;
        }

        public Builder strictVisibility(boolean strictVisibility) {
            this.strictVisibility = strictVisibility;
            return this;
        }

        public Builder leafLifetime(Duration leafLifetime) {
            this.leafLifetime = leafLifetime;
            return this;
        }

        /** The injector's webhook PKI; without it no injector is installed. */
        public Builder webhook(Optional<WebhookTls> webhook) {
            this.webhook = webhook;
            return this;
        }

        public Builder nativeSidecar(NativeSidecarMode nativeSidecar) {
            this.nativeSidecar = nativeSidecar;
            return this;
        }

        /** The Prometheus image run beside viz; empty: none. */
        public Builder nodeMode(boolean nodeMode) {
            this.nodeMode = nodeMode;
            return this;
        }

        public Builder prometheusImage(Optional<String> image) {
            this.prometheusImage = image;
            return this;
        }

        public InstallOptions build() {
            return new InstallOptions(namespace, trustDomain, clusterDomain, registry, version, imagePullPolicy, ha, identity, controllerUid,
                    defaultInboundPolicy, strictVisibility, leafLifetime, webhook, nativeSidecar, prometheusImage, nodeMode);
        }
    }
}
