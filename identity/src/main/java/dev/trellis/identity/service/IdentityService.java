package dev.trellis.identity.service;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import com.google.rpc.Code;
import com.google.rpc.RetryInfo;
import dev.trellis.api.identity.v1.CertifyRequest;
import dev.trellis.api.identity.v1.CertifyResponse;
import dev.trellis.api.identity.v1.IdentityGrpc;
import dev.trellis.core.identity.IdentityPattern;
import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.identity.audit.AuditEvent;
import dev.trellis.identity.audit.AuditLog;
import dev.trellis.identity.auth.AuthenticationException;
import dev.trellis.identity.auth.Authenticator;
import dev.trellis.identity.auth.Caller;
import dev.trellis.identity.delegation.NodeDelegation;
import dev.trellis.identity.issuer.IssuerWatcher;
import dev.trellis.ratelimit.KeyedRateLimiter;
import dev.trellis.tls.pki.CsrRejectedException;
import dev.trellis.tls.pki.CsrValidator;
import dev.trellis.tls.pki.IssuedLeaf;
import dev.trellis.tls.pki.LeafIssuer;
import dev.trellis.tls.pki.ValidatedCsr;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.core.datapoints.Timer;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code Certify} call, as one readable sequence of checks, cheapest and most
 * protective first:
 * <ol>
 *   <li>per-peer rate limit — before anything costs CPU or an API-server call;</li>
 *   <li>request shape — identity parses, is in our trust domain, token and CSR within limits;</li>
 *   <li>an issuer is loaded and valid;</li>
 *   <li>authentication of the token, then: the token's identity is the requested one;</li>
 *   <li>per-identity rate limit — a stolen token exhausts only its own identity;</li>
 *   <li>signing-concurrency cap — wait at most 50 ms for a slot, then fail fast instead of queueing;</li>
 *   <li>strict CSR validation, signing, audit.</li>
 * </ol>
 * Every outcome writes one audit line and counts in the metrics. Thread-safe.
 */
public final class IdentityService extends IdentityGrpc.IdentityImplBase {

    private static final Logger log = LoggerFactory.getLogger(IdentityService.class);

    static final int MAX_IDENTITY_LENGTH = 1024;
    static final int MAX_TOKEN_LENGTH = 16 * 1024;
    static final Duration SIGNING_WAIT = Duration.ofMillis(50);

    private final String trustDomain;
    private final IssuerWatcher issuers;
    private final Authenticator authenticator;
    private final Duration leafLifetime;
    private final KeyedRateLimiter<String> peerLimiter;
    private final KeyedRateLimiter<WorkloadIdentity> identityLimiter;
    private final Semaphore signing;
    private final AuditLog audit;
    private final IdentityMetrics metrics;
    private final Clock clock;
    private final CsrValidator validator = new CsrValidator();
    private final Optional<NodeDelegation> delegation;

    public IdentityService(String trustDomain, IssuerWatcher issuers, Authenticator authenticator, Duration leafLifetime,
                           CertifyLimits limits, AuditLog audit, IdentityMetrics metrics, Clock clock) {
        this(trustDomain, issuers, authenticator, Optional.empty(), leafLifetime, limits, audit, metrics, clock);
    }

    /** With {@code delegation}, node proxies may ask for the identities of pods on their own node ({@link NodeDelegation}). */
    public IdentityService(String trustDomain, IssuerWatcher issuers, Authenticator authenticator, Optional<NodeDelegation> delegation, Duration leafLifetime,
                           CertifyLimits limits, AuditLog audit, IdentityMetrics metrics, Clock clock) {
        this.delegation = requireNonNull(delegation, "delegation");
        this.trustDomain = requireNonNull(trustDomain, "trustDomain");
        this.issuers = requireNonNull(issuers, "issuers");
        this.authenticator = requireNonNull(authenticator, "authenticator");
        this.leafLifetime = requireNonNull(leafLifetime, "leafLifetime");
        this.peerLimiter = KeyedRateLimiter.create(limits.perPeer());
        this.identityLimiter = KeyedRateLimiter.create(limits.perIdentity());
        this.signing = new Semaphore(limits.maxConcurrentSigning());
        this.audit = requireNonNull(audit, "audit");
        this.metrics = requireNonNull(metrics, "metrics");
        this.clock = requireNonNull(clock, "clock");
    }

    @Override
    public void certify(CertifyRequest request, StreamObserver<CertifyResponse> responses) {
        String peer = Optional.ofNullable(PeerAddressInterceptor.PEER.get()).orElse("unknown");
        Decision decision = new Decision(peer, request.getIdentity());
        CertifyResponse response = null;
        StatusRuntimeException failure = null;
        try {
            response = decide(request, decision);
        } catch (StatusRuntimeException e) {
            failure = e;
        } catch (RuntimeException e) {
            log.error("identity: certify from {} failed unexpectedly", peer, e);
            decision.outcome("error", "internal error: " + e);
            metrics.refused.labelValues("internal").inc();
            failure = Status.INTERNAL.withDescription("identity: internal error").asRuntimeException();
        }
        // The decision is on record before the caller hears of it.
        audit.record(decision.toEvent(clock.instant()));
        if (failure != null) {
            responses.onError(failure);
        } else {
            responses.onNext(response);
            responses.onCompleted();
        }
    }

    private CertifyResponse decide(CertifyRequest request, Decision decision) {
        Duration wait = peerLimiter.tryAcquire(decision.peer);
        if (!wait.isZero()) {
            throw rateLimited(decision, "peer", "identity: too many requests from " + decision.peer, wait);
        }

        WorkloadIdentity requested = parseRequest(request, decision);

        LeafIssuer issuer = issuers.current().orElseThrow(() ->
                refuse(decision, Status.Code.UNAVAILABLE, "unavailable", "identity: no issuer loaded yet (" + issuers.source() + ")"));
        Instant now = clock.instant();
        if (!now.isBefore(issuer.notAfter())) {
            throw refuse(decision, Status.Code.UNAVAILABLE, "unavailable", "identity: the issuer expired at " + issuer.notAfter() + "; replace " + issuers.source());
        }

        Caller caller;
        try {
            caller = authenticator.caller(request.getToken(), trustDomain);
        } catch (AuthenticationException e) {
            if (e.kind() == AuthenticationException.Kind.UNAVAILABLE) {
                throw refuse(decision, Status.Code.UNAVAILABLE, "unavailable", "identity: cannot authenticate now: " + e.getMessage());
            }
            throw refuse(decision, Status.Code.UNAUTHENTICATED, "unauthenticated", "identity: " + e.getMessage());
        }
        WorkloadIdentity authenticated = caller.identity();
        decision.authenticated = authenticated.spiffeId() + caller.pod().map(pod -> " (pod " + pod + ")").orElse("");
        if (!IdentityPattern.exactly(requested).matches(authenticated)) {
            authorizeDelegation(caller, requested, decision);
        }

        // Keyed by the identity issued: a node proxy's requests for its pods' accounts each count against that account.
        wait = identityLimiter.tryAcquire(requested);
        if (!wait.isZero()) {
            throw rateLimited(decision, "identity", "identity: too many requests for " + requested.shortName(), wait);
        }
        if (!acquireSigningSlot()) {
            throw rateLimited(decision, "signing", "identity: the CA is busy signing", Duration.ofMillis(100));
        }
        IssuedLeaf leaf;
        try (Timer ignored = metrics.signingSeconds.startTimer()) {
            ValidatedCsr csr = validator.validate(request.getCsrDer().toByteArray(), requested);
            leaf = issuer.issue(csr, leafLifetime, now);
        } catch (CsrRejectedException e) {
            throw refuse(decision, Status.Code.INVALID_ARGUMENT, "invalid_csr", "identity: " + e.getMessage());
        } catch (LeafIssuer.IssuerExpiredException e) {
            throw refuse(decision, Status.Code.UNAVAILABLE, "unavailable", "identity: " + e.getMessage());
        } finally {
            signing.release();
        }
        metrics.issued.inc();
        decision.issued(leaf);
        return toResponse(leaf);
    }

    /**
     * Lets a node proxy have {@code requested} when its node runs a pod of that account in node
     * mode; refuses anything else, naming who asked for what.
     */
    private void authorizeDelegation(Caller caller, WorkloadIdentity requested, Decision decision) {
        if (delegation.isEmpty() || !delegation.get().isNodeProxy(caller.identity())) {
            throw refuse(decision, Status.Code.PERMISSION_DENIED, "permission_denied",
                    "identity: token for " + caller.identity().shortName() + " cannot request " + requested.shortName());
        }
        Optional<String> refusal;
        try {
            refusal = delegation.get().refusal(caller, requested);
        } catch (RuntimeException e) {
            throw refuse(decision, Status.Code.UNAVAILABLE, "unavailable", "identity: cannot check the node proxy's node now: " + e.getMessage());
        }
        if (refusal.isPresent()) {
            throw refuse(decision, Status.Code.PERMISSION_DENIED, "node_delegation_denied", "identity: " + refusal.get());
        }
    }

    /**
     * A signing slot, waiting at most {@link #SIGNING_WAIT}: a signature takes well under a
     * millisecond, so a short wait absorbs collisions between a few callers, while a flood
     * still fails fast instead of queueing. Calls run on virtual threads; waiting is cheap.
     */
    private boolean acquireSigningSlot() {
        try {
            return signing.tryAcquire(SIGNING_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private WorkloadIdentity parseRequest(CertifyRequest request, Decision decision) {
        if (request.getIdentity().length() > MAX_IDENTITY_LENGTH) {
            throw refuse(decision, Status.Code.INVALID_ARGUMENT, "invalid_request", "identity: requested identity is longer than " + MAX_IDENTITY_LENGTH + " characters");
        }
        WorkloadIdentity requested;
        try {
            requested = WorkloadIdentity.parseSpiffeId(request.getIdentity());
        } catch (IllegalArgumentException e) {
            throw refuse(decision, Status.Code.INVALID_ARGUMENT, "invalid_request", e.getMessage());
        }
        if (!requested.trustDomain().equals(trustDomain)) {
            throw refuse(decision, Status.Code.PERMISSION_DENIED, "permission_denied",
                    "identity: trust domain " + requested.trustDomain() + " is not this CA's (" + trustDomain + ")");
        }
        if (request.getToken().isEmpty()) {
            throw refuse(decision, Status.Code.UNAUTHENTICATED, "unauthenticated", "identity: no token");
        }
        if (request.getToken().length() > MAX_TOKEN_LENGTH) {
            throw refuse(decision, Status.Code.INVALID_ARGUMENT, "invalid_request", "identity: token is longer than " + MAX_TOKEN_LENGTH + " characters");
        }
        if (request.getCsrDer().size() > CsrValidator.MAX_CSR_BYTES) {
            throw refuse(decision, Status.Code.INVALID_ARGUMENT, "invalid_csr",
                    "identity: csr: " + request.getCsrDer().size() + " bytes is over the " + CsrValidator.MAX_CSR_BYTES + "-byte limit");
        }
        return requested;
    }

    private StatusRuntimeException refuse(Decision decision, Status.Code code, String reasonLabel, String message) {
        decision.outcome(code == Status.Code.UNAVAILABLE ? "unavailable" : "refused", message);
        metrics.refused.labelValues(reasonLabel).inc();
        return Status.fromCode(code).withDescription(message).asRuntimeException();
    }

    private StatusRuntimeException rateLimited(Decision decision, String scope, String message, Duration retryAfter) {
        Duration hint = retryAfter.compareTo(Duration.ofMillis(10)) < 0 ? Duration.ofMillis(10) : retryAfter;
        String full = message + "; retry after " + hint.toMillis() + " ms";
        decision.outcome("rate_limited", full);
        metrics.rateLimited.labelValues(scope).inc();
        com.google.rpc.Status status = com.google.rpc.Status.newBuilder()
                .setCode(Code.RESOURCE_EXHAUSTED_VALUE)
                .setMessage(full)
                .addDetails(Any.pack(RetryInfo.newBuilder()
                        .setRetryDelay(com.google.protobuf.Duration.newBuilder()
                                .setSeconds(hint.getSeconds()).setNanos(hint.getNano()))
                        .build()))
                .build();
        return StatusProto.toStatusRuntimeException(status);
    }

    private static CertifyResponse toResponse(IssuedLeaf leaf) {
        try {
            CertifyResponse.Builder response = CertifyResponse.newBuilder()
                    .setLeafDer(ByteString.copyFrom(leaf.leaf().getEncoded()))
                    .setValidUntil(Timestamp.newBuilder().setSeconds(leaf.notAfter().getEpochSecond()));
            for (X509Certificate intermediate : leaf.intermediates()) {
                response.addIntermediatesDer(ByteString.copyFrom(intermediate.getEncoded()));
            }
            return response.build();
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What is known about one call as it goes through the checks; becomes its audit line. */
    private static final class Decision {
        final String peer;
        final String requested;
        String authenticated;
        String outcome = "refused";
        String reason;
        String serial;
        Instant notAfter;

        Decision(String peer, String requested) {
            this.peer = peer;
            this.requested = requested;
        }

        void outcome(String outcome, String reason) {
            this.outcome = outcome;
            this.reason = reason;
        }

        void issued(IssuedLeaf leaf) {
            this.outcome = "issued";
            this.reason = null;
            this.serial = leaf.serial().toString(16);
            this.notAfter = leaf.notAfter();
        }

        AuditEvent toEvent(Instant time) {
            return new AuditEvent(time, peer, requested, authenticated, outcome, reason, serial, notAfter);
        }
    }
}
