package dev.trellis.cli;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.identity.auth.LocalTokens;
import dev.trellis.tls.pki.Pem;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code trellis identity token}: mint a local-mode token for a service account. */
@Command(mixinStandardHelpOptions = true, name = "token", description = "Print a local-mode token proving a service account, for 'identity serve --token-key'.")
final class IdentityTokenCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--token-key", required = true, paramLabel = "FILE", description = "token-key.pem from 'identity bootstrap'.")
    Path tokenKey;

    @Option(names = "--namespace", required = true, description = "Namespace of the service account.")
    String namespace;

    @Option(names = "--service-account", required = true, description = "Service account the token proves.")
    String serviceAccount;

    @Option(names = "--ttl", defaultValue = "24h", description = "How long the token is valid (default: ${DEFAULT-VALUE}, at most 366d).")
    Duration ttl;

    @Override
    public Integer call() throws Exception {
        // The trust domain is the verifier's; any valid one serves to check the names here.
        WorkloadIdentity identity = new WorkloadIdentity(WorkloadIdentity.DEFAULT_TRUST_DOMAIN, namespace, serviceAccount);
        spec.commandLine().getOut().println(LocalTokens.mint(Pem.readPrivateKey(tokenKey), identity, ttl, Instant.now()));
        return 0;
    }
}
