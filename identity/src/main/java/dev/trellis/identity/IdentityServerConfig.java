package dev.trellis.identity;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.identity.service.CertifyLimits;
import dev.trellis.tls.pki.LeafIssuer;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Settings of {@code trellis identity serve}.
 *
 * @param trustDomain          the trust domain the CA issues for
 * @param trustAnchorFile      the roots leaves must chain to
 * @param issuerCertificateFile issuer certificate (first) and any chain above it, PEM
 * @param issuerKeyFile        the issuer's private key, PEM
 * @param listen               gRPC listener
 * @param admin                admin listener (loopback by default)
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
        WorkloadIdentity serverIdentity,
        Duration leafLifetime,
        CertifyLimits limits,
        Duration issuerReloadInterval,
        boolean debug) {

    /** Default gRPC listener, as Linkerd's identity service. */
    public static final HostPort DEFAULT_LISTEN = new HostPort("0.0.0.0", 8080);
    /** Default admin listener. */
    public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", 9990);
    /** Namespace and service account the service's own certificate names by default. */
    public static final String DEFAULT_NAMESPACE = "trellis";
    public static final String DEFAULT_SERVICE_ACCOUNT = "trellis-identity";
    /** Shortest leaf lifetime accepted (tests and demos rotate quickly). */
    public static final Duration MIN_LEAF_LIFETIME = Duration.ofSeconds(2);

    public IdentityServerConfig {
        requireNonNull(trustDomain, "trustDomain");
        requireNonNull(trustAnchorFile, "trustAnchorFile");
        requireNonNull(issuerCertificateFile, "issuerCertificateFile");
        requireNonNull(issuerKeyFile, "issuerKeyFile");
        requireNonNull(listen, "listen");
        requireNonNull(admin, "admin");
        requireNonNull(serverIdentity, "serverIdentity");
        requireNonNull(limits, "limits");
        if (!serverIdentity.trustDomain().equals(trustDomain)) {
            throw new IllegalArgumentException("identity: server identity " + serverIdentity + " is outside the trust domain " + trustDomain);
        }
        if (leafLifetime.compareTo(MIN_LEAF_LIFETIME) < 0 || leafLifetime.compareTo(Duration.ofDays(365)) > 0) {
            throw new IllegalArgumentException("identity: leaf lifetime " + leafLifetime + " must be between " + MIN_LEAF_LIFETIME.toSeconds() + "s and 365 days");
        }
        if (issuerReloadInterval.compareTo(Duration.ofMillis(100)) < 0) {
            throw new IllegalArgumentException("identity: issuer reload interval " + issuerReloadInterval + " must be at least 100ms");
        }
    }

    /** Settings with every default but the files. */
    public static IdentityServerConfig defaults(String trustDomain, Path trustAnchorFile, Path issuerCertificateFile, Path issuerKeyFile) {
        return new IdentityServerConfig(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile, DEFAULT_LISTEN, DEFAULT_ADMIN,
                new WorkloadIdentity(trustDomain, DEFAULT_NAMESPACE, DEFAULT_SERVICE_ACCOUNT), LeafIssuer.DEFAULT_LEAF_LIFETIME,
                CertifyLimits.defaults(), Duration.ofSeconds(5), false);
    }

    public IdentityServerConfig withListen(HostPort listen, HostPort admin) {
        return new IdentityServerConfig(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile, listen, admin,
                serverIdentity, leafLifetime, limits, issuerReloadInterval, debug);
    }

    public IdentityServerConfig withLeafLifetime(Duration leafLifetime) {
        return new IdentityServerConfig(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile, listen, admin,
                serverIdentity, leafLifetime, limits, issuerReloadInterval, debug);
    }

    public IdentityServerConfig withLimits(CertifyLimits limits) {
        return new IdentityServerConfig(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile, listen, admin,
                serverIdentity, leafLifetime, limits, issuerReloadInterval, debug);
    }

    public IdentityServerConfig withIssuerReloadInterval(Duration interval) {
        return new IdentityServerConfig(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile, listen, admin,
                serverIdentity, leafLifetime, limits, interval, debug);
    }

    public IdentityServerConfig withServerIdentity(WorkloadIdentity serverIdentity) {
        return new IdentityServerConfig(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile, listen, admin,
                serverIdentity, leafLifetime, limits, issuerReloadInterval, debug);
    }

    public IdentityServerConfig withDebug(boolean debug) {
        return new IdentityServerConfig(trustDomain, trustAnchorFile, issuerCertificateFile, issuerKeyFile, listen, admin,
                serverIdentity, leafLifetime, limits, issuerReloadInterval, debug);
    }
}
