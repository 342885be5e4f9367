package dev.trellis.cli;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.CaCertificates;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code trellis identity bootstrap}: a new trust anchor, issuer and token key. */
@Command(mixinStandardHelpOptions = true, name = "bootstrap", description = {
        "Create a mesh PKI: trust-anchor.pem, issuer.pem, issuer-key.pem, token-key.pem (keys mode 0600) and token-key.pub.pem.",
        "Keep the anchor's key offline: it is not written; make a new anchor to rotate."})
final class IdentityBootstrapCommand implements Callable<Integer> {

    static final String TRUST_ANCHOR = "trust-anchor.pem";
    static final String ISSUER = "issuer.pem";
    static final String ISSUER_KEY = "issuer-key.pem";
    static final String TOKEN_KEY = "token-key.pem";
    static final String TOKEN_PUBLIC_KEY = "token-key.pub.pem";

    @Spec
    CommandSpec spec;

    @Option(names = "--trust-domain", defaultValue = WorkloadIdentity.DEFAULT_TRUST_DOMAIN, description = "Trust domain (default: ${DEFAULT-VALUE}).")
    String trustDomain;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to write the files into.")
    Path out;

    @Option(names = "--force", description = "Overwrite existing files.")
    boolean force;

    @Option(names = "--anchor-lifetime", defaultValue = "3650d", description = "Trust-anchor lifetime (default: ${DEFAULT-VALUE}).")
    Duration anchorLifetime;

    @Option(names = "--issuer-lifetime", defaultValue = "365d", description = "Issuer lifetime (default: ${DEFAULT-VALUE}).")
    Duration issuerLifetime;

    @Override
    public Integer call() throws Exception {
        // Validates the trust domain the same way identities do.
        ControlPlaneComponent.IDENTITY.identity(trustDomain);
        List<Path> files = List.of(out.resolve(TRUST_ANCHOR), out.resolve(ISSUER), out.resolve(ISSUER_KEY), out.resolve(TOKEN_KEY),
                out.resolve(TOKEN_PUBLIC_KEY));
        if (!force) {
            for (Path file : files) {
                if (Files.exists(file)) {
                    throw new IllegalArgumentException("identity bootstrap: " + file + " exists; refusing to overwrite it (use --force)");
                }
            }
        }
        Instant now = Instant.now();
        CaCredentials anchor = CaCertificates.newTrustAnchor(trustDomain, anchorLifetime, now);
        CaCredentials issuer = CaCertificates.newIssuer(anchor, trustDomain, issuerLifetime, now);
        Files.createDirectories(out);
        Pem.writePublic(files.get(0), Pem.encodeCertificates(List.of(anchor.certificate())), force);
        Pem.writePublic(files.get(1), Pem.encodeCertificates(issuer.chain()), force);
        Pem.writeSecret(files.get(2), Pem.encodePrivateKey(issuer.key()), force);
        java.security.KeyPair tokenKey = EcKeys.generateP256();
        Pem.writeSecret(files.get(3), Pem.encodePrivateKey(tokenKey.getPrivate()), force);
        Pem.writePublic(files.get(4), Pem.encodePublicKey(tokenKey.getPublic()), force);
        var print = spec.commandLine().getOut();
        print.println("Wrote a mesh PKI for trust domain " + trustDomain + " to " + out + ":");
        print.println("  " + TRUST_ANCHOR + "  trust anchor (root), valid until " + anchor.certificate().getNotAfter().toInstant());
        print.println("  " + ISSUER + "        issuer certificate, valid until " + issuer.certificate().getNotAfter().toInstant());
        print.println("  " + ISSUER_KEY + "    issuer key (0600)");
        print.println("  " + TOKEN_KEY + "     key that signs local-mode tokens (0600)");
        print.println("  " + TOKEN_PUBLIC_KEY + " its public half: give this to 'identity serve --token-key'");
        print.println("The trust anchor's private key was not kept: to rotate the anchor, bootstrap a new one.");
        return 0;
    }
}
