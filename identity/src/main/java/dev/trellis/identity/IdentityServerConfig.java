package dev.trellis.identity;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.core.settings.LeafLifetime;
import dev.trellis.identity.service.CertifyLimits;
import dev.trellis.tls.pki.LeafIssuer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Settings of {@code trellis identity serve}.
 *
 * @param trustDomain          the trust domain the CA issues for
 * @param trustAnchorFile      the roots leaves must chain to
 * @param issuerCertificateFile issuer certificate (first) and any chain above it, PEM
 * @param issuerKeyFile        the issuer's private key, PEM
 * @param listen               gRPC listener
 * @param admin                admin listener (loopback by default)
 * @param probes               a listener for the kubelet's {@code /live} and {@code /ready} only
 * @param serverIdentity       the identity the service presents on its own TLS listener
 * @param leafLifetime         lifetime of issued leaves
 * @param limits               rate limits and the signing cap
 * @param issuerReloadInterval how often the issuer files are checked for changes
 * @param debug                serve {@code /debug/*} on the admin listener
 */
public record IdentityServerConfig(
        String trustDomain,
        Path trustAnchorFile,
        Path issuerCertificateFile,
        Path issuerKeyFile,
        HostPort listen,
        HostPort admin,
        Optional<HostPort> probes,
        WorkloadIdentity serverIdentity,
        Duration leafLifetime,
        CertifyLimits limits,
        Duration issuerReloadInterval,
        boolean debug) {

    /** Default gRPC listener, as Linkerd's identity service. */
    public static final HostPort DEFAULT_LISTEN = new HostPort("0.0.0.0", 8080);
    /** Default admin listener. */
    public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", 9990);
    /** Shortest leaf lifetime accepted (tests and demos rotate quickly); install applies the same rule ({@link LeafLifetime}). */
    public static final Duration MIN_LEAF_LIFETIME = LeafLifetime.MIN;

    public IdentityServerConfig {
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(trustAnchorFile, "trustAnchorFile");
        requireNonNull(issuerCertificateFile, "issuerCertificateFile");
        requireNonNull(issuerKeyFile, "issuerKeyFile");
        requireNonNull(listen, "listen");
        requireNonNull(admin, "admin");
        requireNonNull(probes, "probes");
        requireNonNull(serverIdentity, "serverIdentity");
        requireNonNull(limits, "limits");
        if (!serverIdentity.trustDomain().equals(trustDomain)) {
            throw new IllegalArgumentException("identity: server identity " + serverIdentity + " is outside the trust domain " + trustDomain);
        }
        try {
            LeafLifetime.check(leafLifetime);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("identity: " + e.getMessage(), e);
        }
        if (issuerReloadInterval.compareTo(Duration.ofMillis(100)) < 0) {
            throw new IllegalArgumentException("identity: issuer reload interval " + issuerReloadInterval + " must be at least 100ms");
        }
    }

    /** A builder with every default but the files. */
    public static Builder builder(String trustDomain, Path trustAnchorFile, Path issuerCertificateFile, Path issuerKeyFile) {
        return new Builder(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile);
    }

    /** A builder holding these settings, to change some of them. */
    public Builder toBuilder() {
        return new Builder(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile)
                .listen(listen).admin(admin).probes(probes).serverIdentity(serverIdentity).leafLifetime(leafLifetime)
                .limits(limits).issuerReloadInterval(issuerReloadInterval).debug(debug);
    }

    /** Builds {@link IdentityServerConfig}; unset settings keep their defaults. */
    public static final class Builder {
        private final String trustDomain;
        private final Path trustAnchorFile;
        private final Path issuerCertificateFile;
        private final Path issuerKeyFile;
        private HostPort listen = DEFAULT_LISTEN;
        private HostPort admin = DEFAULT_ADMIN;
        private Optional<HostPort> probes = Optional.empty();
        private WorkloadIdentity serverIdentity;
        private Duration leafLifetime = LeafIssuer.DEFAULT_LEAF_LIFETIME;
        private CertifyLimits limits = CertifyLimits.defaults();
        private Duration issuerReloadInterval = Duration.ofSeconds(5);
        private boolean debug;

        private Builder(String trustDomain, Path trustAnchorFile, Path issuerCertificateFile, Path issuerKeyFile) {
            this.trustDomain = trustDomain;
            this.trustAnchorFile = trustAnchorFile;
            this.issuerCertificateFile = issuerCertificateFile;
            this.issuerKeyFile = issuerKeyFile;
        }

        public Builder listen(HostPort listen) {
            this.listen = listen;
            return this;
        }

        public Builder admin(HostPort admin) {
            this.admin = admin;
            return this;
        }

        public Builder probes(Optional<HostPort> probes) {
            this.probes = probes;
            return this;
        }

        /** Default: {@code spiffe://<td>/ns/trellis/sa/trellis-identity}. */
        public Builder serverIdentity(WorkloadIdentity serverIdentity) {
            this.serverIdentity = serverIdentity;
            return this;
        }

        public Builder leafLifetime(Duration leafLifetime) {
            this.leafLifetime = leafLifetime;
            return this;
        }

        public Builder limits(CertifyLimits limits) {
            this.limits = limits;
            return this;
        }

        public Builder issuerReloadInterval(Duration issuerReloadInterval) {
            this.issuerReloadInterval = issuerReloadInterval;
            return this;
        }

        public Builder debug(boolean debug) {
            this.debug = debug;
            return this;
        }

        public IdentityServerConfig build() {
            WorkloadIdentity identity = serverIdentity != null ? serverIdentity
                    : ControlPlaneComponent.IDENTITY.identity(trustDomain);
            return new IdentityServerConfig(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile, listen, admin, probes,
                    identity, leafLifetime, limits, issuerReloadInterval, debug);
        }
    }
}
