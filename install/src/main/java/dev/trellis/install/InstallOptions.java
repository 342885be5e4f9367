package dev.trellis.install;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.version.TrellisVersion;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.ServingCertificates;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

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
        String defaultInboundPolicy,
        boolean strictVisibility,
        String leafLifetime,
        Optional<WebhookTls> webhook,
        String nativeSidecar) {

    private static final Pattern IMAGE_TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern REGISTRY = Pattern.compile("[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?");
    private static final Set<String> PULL_POLICIES = Set.of("Always", "IfNotPresent", "Never");
    private static final Set<String> INBOUND_POLICIES = Set.of("all-unauthenticated", "all-authenticated", "cluster-authenticated", "deny", "audit");

    public InstallOptions {
        requireNonNull(identity, "identity");
        try {
            // the namespace and trust domain as every control-plane identity will spell them
            new WorkloadIdentity(trustDomain, namespace, ControlPlaneComponent.IDENTITY.serviceAccount());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("install: " + e.getMessage(), e);
        }
        if (!IMAGE_TAG.matcher(version).matches()) {
            throw new IllegalArgumentException("install: --version '" + version + "' is not an image tag");
        }
        if (!REGISTRY.matcher(registry).matches()) {
            throw new IllegalArgumentException("install: --registry '" + registry + "' is not a registry path such as ghcr.io/trellis-dev");
        }
        if (!PULL_POLICIES.contains(imagePullPolicy)) {
            throw new IllegalArgumentException("install: --image-pull-policy '" + imagePullPolicy + "' is not one of Always, IfNotPresent, Never");
        }
        if (controllerUid < 1 || controllerUid > 65534) {
            throw new IllegalArgumentException("install: --controller-uid " + controllerUid + " must be a non-zero uid below 65535");
        }
        if (!INBOUND_POLICIES.contains(defaultInboundPolicy)) {
            throw new IllegalArgumentException("install: --default-inbound-policy '" + defaultInboundPolicy + "' is not one of " + INBOUND_POLICIES);
        }
        requireNonNull(clusterDomain, "clusterDomain");
        requireNonNull(leafLifetime, "leafLifetime");
        requireNonNull(webhook, "webhook");
        if (!Set.of("auto", "true", "false").contains(nativeSidecar)) {
            throw new IllegalArgumentException("install: --native-sidecar '" + nativeSidecar + "' is not one of auto, true, false");
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
        /** The uid control-plane containers run as (the proxy runs as 2102). */
        public static final long DEFAULT_CONTROLLER_UID = 2103;

        private final IdentityMaterial identity;
        private String namespace = ControlPlaneComponent.DEFAULT_NAMESPACE;
        private String trustDomain = WorkloadIdentity.DEFAULT_TRUST_DOMAIN;
        private String clusterDomain = "cluster.local";
        private String registry = DEFAULT_REGISTRY;
        private String version = TrellisVersion.current();
        private String imagePullPolicy = "IfNotPresent";
        private boolean ha;
        private long controllerUid = DEFAULT_CONTROLLER_UID;
        private String defaultInboundPolicy = "all-unauthenticated";
        private boolean strictVisibility;
        private String leafLifetime = "24h";
        private Optional<WebhookTls> webhook = Optional.empty();
        private String nativeSidecar = "auto";

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

        public Builder defaultInboundPolicy(String defaultInboundPolicy) {
            this.defaultInboundPolicy = defaultInboundPolicy;
            return this;
        }

        public Builder strictVisibility(boolean strictVisibility) {
            this.strictVisibility = strictVisibility;
            return this;
        }

        public Builder leafLifetime(String leafLifetime) {
            this.leafLifetime = leafLifetime;
            return this;
        }

        /** The injector's webhook PKI; without it no injector is installed. */
        public Builder webhook(Optional<WebhookTls> webhook) {
            this.webhook = webhook;
            return this;
        }

        public Builder nativeSidecar(String nativeSidecar) {
            this.nativeSidecar = nativeSidecar;
            return this;
        }

        public InstallOptions build() {
            return new InstallOptions(namespace, trustDomain, clusterDomain, registry, version, imagePullPolicy, ha, identity, controllerUid,
                    defaultInboundPolicy, strictVisibility, leafLifetime, webhook, nativeSidecar);
        }
    }
}
