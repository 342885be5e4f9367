package dev.trellis.benchmarks;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.CaCertificates;
import dev.trellis.tls.pki.CaCredentials;
import dev.trellis.tls.pki.CertificateRequests;
import dev.trellis.tls.pki.CsrValidator;
import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.IssuedLeaf;
import dev.trellis.tls.pki.LeafIssuer;
import dev.trellis.tls.pki.ValidatedCsr;
import java.security.KeyPair;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The CA's per-certificate work, in-process: strict CSR validation (one ECDSA verify plus
 * parsing) and leaf signing (one ECDSA sign plus encoding). The two {@code baseline*}
 * benchmarks are the raw JCA ECDSA P-256 operations the CA cannot do without, measured in
 * the same run, so the overhead of parsing, checks and certificate building shows.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class CertifyBenchmark {

    private static final int POOL = 64;
    private static final WorkloadIdentity WEB = new WorkloadIdentity("cluster.local", "emojivoto", "web");

    private final CsrValidator validator = new CsrValidator();
    private LeafIssuer issuer;
    private byte[][] csrs;
    private ValidatedCsr validated;
    private KeyPair keys;
    private byte[] message;
    private byte[] signature;
    private int next;

    @Setup
    public void setUp() throws Exception {
        Instant now = Instant.now();
        CaCredentials anchor = CaCertificates.newTrustAnchor("cluster.local", Duration.ofDays(365), now);
        issuer = new LeafIssuer(CaCertificates.newIssuer(anchor, "cluster.local", Duration.ofDays(30), now));
        csrs = new byte[POOL][];
        for (int i = 0; i < POOL; i++) {
            csrs[i] = CertificateRequests.create(EcKeys.generateP256(), WEB);
        }
        validated = validator.validate(csrs[0], WEB);
        keys = EcKeys.generateP256();
        message = csrs[0];
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(keys.getPrivate());
        signer.update(message);
        signature = signer.sign();
    }

    /** What one Certify costs the CA besides authentication and gRPC. */
    @Benchmark
    public IssuedLeaf validateAndSign() throws Exception {
        byte[] csr = csrs[next++ & (POOL - 1)];
        return issuer.issue(validator.validate(csr, WEB), LeafIssuer.DEFAULT_LEAF_LIFETIME, Instant.now());
    }

    @Benchmark
    public ValidatedCsr validateOnly() throws Exception {
        return validator.validate(csrs[next++ & (POOL - 1)], WEB);
    }

    @Benchmark
    public IssuedLeaf signOnly() throws Exception {
        return issuer.issue(validated, LeafIssuer.DEFAULT_LEAF_LIFETIME, Instant.now());
    }

    /** Baseline: one raw ECDSA P-256 signature (what signing a leaf must at least cost). */
    @Benchmark
    public byte[] baselineEcdsaSign() throws Exception {
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(keys.getPrivate());
        signer.update(message);
        return signer.sign();
    }

    /** Baseline: one raw ECDSA P-256 verification (what validating a CSR must at least cost). */
    @Benchmark
    public boolean baselineEcdsaVerify() throws Exception {
        Signature verifier = Signature.getInstance("SHA256withECDSA");
        verifier.initVerify(keys.getPublic());
        verifier.update(message);
        return verifier.verify(signature);
    }
}
