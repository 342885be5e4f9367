package dev.trellis.cli;

import dev.trellis.core.identity.ControlPlaneComponent;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.tls.client.IdentityClient;
import dev.trellis.tls.context.Credentials;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.pki.Pem;
import dev.trellis.tls.pki.TrustAnchors;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code trellis identity certify}: get one mesh certificate and write it out. */
@Command(mixinStandardHelpOptions = true, name = "certify", description = {
        "Ask the identity service for a certificate once and write key.pem (0600) and chain.pem (leaf first).",
        "For debugging, and for workloads outside the mesh that need a mesh certificate."})
final class IdentityCertifyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--server", required = true, paramLabel = "HOST:PORT", description = "The identity service.")
    HostPort server;

    @Option(names = "--trust-anchor", required = true, paramLabel = "FILE", description = "PEM trust anchor the service's certificate chains to.")
    Path trustAnchor;

    @Option(names = "--identity", required = true, paramLabel = "SPIFFE_ID", description = "The identity to certify, spiffe://<td>/ns/<ns>/sa/<sa>.")
    String identity;

    @Option(names = "--token-file", required = true, paramLabel = "FILE", description = "File holding the token that proves the identity.")
    Path tokenFile;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory for key.pem and chain.pem.")
    Path out;

    @Option(names = "--server-identity", paramLabel = "SPIFFE_ID",
            description = "The identity the service must present (default: spiffe://<td>/ns/trellis/sa/trellis-identity).")
    String serverIdentity;

    @Option(names = "--force", description = "Overwrite existing files.")
    boolean force;

    /** Rate limiting and a busy CA are worth a few retries, as the server's hint says; refusals are not. */
    private Credentials certifyWithRetries(IdentityClient client) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                return client.certifyOnce();
            } catch (dev.trellis.tls.client.CertifyException e) {
                if (e.code() != dev.trellis.wire.grpc.GrpcStatus.Code.RESOURCE_EXHAUSTED || attempt == MAX_ATTEMPTS) {
                    throw e;
                }
                long wait = e.retryAfter().map(java.time.Duration::toMillis).orElse(500L);
                spec.commandLine().getErr().println("trellis: " + e.getMessage() + "; retrying in " + wait + " ms");
                Thread.sleep(Math.min(wait, 10_000));
            }
        }
    }

    private static final int MAX_ATTEMPTS = 5;

    @Override
    public Integer call() throws Exception {
        WorkloadIdentity workload = WorkloadIdentity.parseSpiffeId(identity);
        WorkloadIdentity expectedServer = serverIdentity != null ? WorkloadIdentity.parseSpiffeId(serverIdentity)
                : ControlPlaneComponent.IDENTITY.identity(workload.trustDomain());
        Path keyFile = out.resolve("key.pem");
        Path chainFile = out.resolve("chain.pem");
        if (!force && (Files.exists(keyFile) || Files.exists(chainFile))) {
            throw new FileAlreadyExistsException("identity certify: " + out + " already holds key.pem or chain.pem (use --force)");
        }
        Clock clock = Clock.systemUTC();
        CredentialsStore store = new CredentialsStore(workload, TrustAnchors.read(trustAnchor), clock);
        Credentials credentials;
        try (IdentityClient client = new IdentityClient(IdentityClient.Config.defaults(workload, server, expectedServer, tokenFile), store, clock)) {
            credentials = certifyWithRetries(client);
        }
        Files.createDirectories(out);
        Pem.writeSecret(keyFile, Pem.encodePrivateKey(credentials.key()), force);
        Pem.writePublic(chainFile, Pem.encodeCertificates(credentials.chain()), force);
        spec.commandLine().getOut().println("Certified " + workload + " (serial " + credentials.leaf().getSerialNumber().toString(16)
                + ", valid until " + credentials.notAfter() + "): wrote " + keyFile + " and " + chainFile);
        return 0;
    }
}
