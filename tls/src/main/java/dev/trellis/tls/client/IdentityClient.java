package dev.trellis.tls.client;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.core.net.HostPort;
import dev.trellis.tls.context.Credentials;
import dev.trellis.tls.context.CredentialsStore;
import dev.trellis.tls.context.MeshSslContexts;
import dev.trellis.tls.pki.CertificateRequests;
import dev.trellis.tls.pki.EcKeys;
import dev.trellis.tls.pki.Pem;
import dev.trellis.wire.grpc.GrpcClient;
import dev.trellis.wire.grpc.GrpcException;
import dev.trellis.wire.grpc.GrpcStatus;
import dev.trellis.wire.identity.CertifyRequest;
import dev.trellis.wire.identity.CertifyResponse;
import dev.trellis.wire.identity.IdentityService;
import dev.trellis.wire.protobuf.ProtoException;
import dev.trellis.wire.protobuf.ProtoReader;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a workload's certificate fresh.
 *
 * <p>Each renewal generates a new P-256 key, builds a CSR for the workload's identity, reads
 * the token file anew (projected tokens rotate), and calls {@code Certify} over TLS, checking
 * that the server is the identity service's own identity. The answer is installed only if
 * the leaf carries our key and identity and chains to the trust anchors; otherwise the
 * current credentials stay. Renewal is due at 70 % of the leaf's remaining life, clamped to
 * [{@code minRefresh}, {@code maxRefresh}]; failures are retried with jittered exponential
 * backoff (or the server's retry hint, when longer).
 *
 * <p>Thread-safe. {@link #start} runs renewals on one daemon thread; {@link #close} stops them.
 */
public final class IdentityClient implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(IdentityClient.class);

    /** Largest token file read. */
    public static final int MAX_TOKEN_BYTES = 64 * 1024;
    private static final int MAX_RESPONSE_BYTES = 64 * 1024;

    /** Settings of a client; {@link #defaults} fills in the usual values. */
    public record Config(
            WorkloadIdentity identity,
            HostPort server,
            WorkloadIdentity serverIdentity,
            Path tokenFile,
            Duration minRefresh,
            Duration maxRefresh,
            Duration initialBackoff,
            Duration maxBackoff,
            Duration callTimeout) {

        public Config {
            requireNonNull(identity, "identity");
            requireNonNull(server, "server");
            requireNonNull(serverIdentity, "serverIdentity");
            requireNonNull(tokenFile, "tokenFile");
            if (minRefresh.isNegative() || minRefresh.compareTo(maxRefresh) > 0) {
                throw new IllegalArgumentException("identity client: min refresh " + minRefresh + " must be between 0 and max refresh " + maxRefresh);
            }
            if (initialBackoff.isZero() || initialBackoff.isNegative() || initialBackoff.compareTo(maxBackoff) > 0) {
                throw new IllegalArgumentException("identity client: initial backoff " + initialBackoff + " must be positive and at most " + maxBackoff);
            }
        }

        /** Refresh clamped to [1 s, 24 h], backoff 500 ms to 60 s, 10 s per call. */
        public static Config defaults(WorkloadIdentity identity, HostPort server, WorkloadIdentity serverIdentity, Path tokenFile) {
            return new Config(identity, server, serverIdentity, tokenFile,
                    Duration.ofSeconds(1), Duration.ofHours(24), Duration.ofMillis(500), Duration.ofSeconds(60), Duration.ofSeconds(10));
        }
    }

    private final Config config;
    private final CredentialsStore store;
    private final Clock clock;
    private final GrpcClient channel;
    /** The event loop this client made for itself, when it was given none. */
    private final Optional<io.netty.channel.EventLoopGroup> ownLoop;
    private final ScheduledExecutorService scheduler;
    private final AtomicInteger failures = new AtomicInteger();
    private volatile String lastFailure = "";
    private volatile boolean closed;

    /** Where the client's connection does its I/O: an event loop group the caller owns (and closes after this client). */
    public record Transport(io.netty.channel.EventLoopGroup loops, Class<? extends io.netty.channel.Channel> channelType) {
        public Transport {
            requireNonNull(loops, "loops");
            requireNonNull(channelType, "channelType");
        }
    }

    /** A client with an event loop thread of its own. */
    public IdentityClient(Config config, CredentialsStore store, Clock clock) throws SSLException {
        this(config, store, clock, Optional.empty());
    }

    /**
     * A client whose channel does its I/O on {@code transport}'s event loops, when given (a
     * sidecar counts every thread).
     */
    public IdentityClient(Config config, CredentialsStore store, Clock clock, Optional<Transport> transport) throws SSLException {
        this.config = requireNonNull(config, "config");
        this.store = requireNonNull(store, "store");
        this.clock = requireNonNull(clock, "clock");
        if (!store.identity().equals(config.identity())) {
            throw new IllegalArgumentException("identity client: store is for " + store.identity() + ", client for " + config.identity());
        }
        this.scheduler = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "trellis-identity-client");
            thread.setDaemon(true);
            return thread;
        });
        this.ownLoop = transport.isPresent() ? Optional.empty() : Optional.of(new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory()));
        Transport io = transport.orElseGet(() -> new Transport(ownLoop.orElseThrow(), NioSocketChannel.class));
        this.channel = new GrpcClient(new GrpcClient.Config(config.server().host(), config.server().port(), config.serverIdentity().dnsName(),
                // Callbacks in place: the renewal thread waits for the answer, so it cannot also be the one to deliver it.
                Optional.of(MeshSslContexts.forGrpcClient(store.trustAnchors(), Optional.empty(), clock)), io.loops(), io.channelType(), Runnable::run,
                MAX_RESPONSE_BYTES, config.callTimeout()));
    }

    /** Starts renewing: the first attempt now, the next ones as described above. */
    public void start() {
        scheduler.execute(this::renewAndReschedule);
    }

    /**
     * Certifies once and installs the result.
     *
     * @throws CertifyException with the server's reason, or the local one (token unreadable,
     *         answer not for our key or identity, chain not verifying)
     */
    public Credentials certifyOnce() throws CertifyException {
        KeyPair keys = EcKeys.generateP256();
        byte[] csr = CertificateRequests.create(keys, config.identity());
        String token = readToken();
        CertifyResponse response;
        try {
            // The call's deadline ends it; the wait's own limit only guards against a lost answer.
            response = channel.unary(IdentityService.CERTIFY, new CertifyRequest(config.identity().spiffeId(), token, csr), CertifyResponse::read, config.callTimeout())
                    .get(config.callTimeout().toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            GrpcStatus status = e.getCause() instanceof GrpcException grpc ? grpc.status()
                    : GrpcStatus.of(GrpcStatus.Code.UNKNOWN, String.valueOf(e.getCause()));
            throw new CertifyException(describe(status), status.code(), retryHint(status), e.getCause());
        } catch (TimeoutException e) {
            throw new CertifyException("identity client: no answer from " + config.server(), GrpcStatus.Code.DEADLINE_EXCEEDED, null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CertifyException("identity client: interrupted while waiting for " + config.server(), GrpcStatus.Code.CANCELLED, null, e);
        }
        Credentials credentials = toCredentials(response, keys);
        try {
            store.install(credentials);
        } catch (CertificateException e) {
            throw new CertifyException("identity client: refusing the certificate from " + config.server() + ": " + e.getMessage(),
                    GrpcStatus.Code.UNKNOWN, null, e);
        }
        failures.set(0);
        return credentials;
    }

    /**
     * What went wrong with a call, in words: the server's refusal as it gave it, or, when the
     * call never reached it, the transport's real reason (a TLS handshake refused because the
     * server's certificate does not chain to our trust anchors, say).
     */
    private String describe(GrpcStatus status) {
        String tls = "the TLS handshake failed: ";
        int refused = status.description().indexOf(tls);
        if (status.code() == GrpcStatus.Code.UNAVAILABLE && refused >= 0) {
            return "identity client: the TLS handshake with " + config.server() + " failed: " + status.description().substring(refused + tls.length())
                    + " (is " + config.serverIdentity() + " signed by the trust anchors given?)";
        }
        if (status.code() == GrpcStatus.Code.UNAVAILABLE) {
            return "identity client: " + status.description();
        }
        String description = status.description().isEmpty() ? "" : ": " + status.description().lines().findFirst().orElse("");
        return "identity client: " + config.server() + " refused " + config.identity() + ": " + status.code() + description;
    }

    private Credentials toCredentials(CertifyResponse response, KeyPair keys) throws CertifyException {
        List<X509Certificate> chain = new ArrayList<>();
        try {
            chain.add(Pem.fromDer(response.leafDer(), "leaf from " + config.server()));
            for (byte[] der : response.intermediatesDer()) {
                chain.add(Pem.fromDer(der, "intermediate from " + config.server()));
            }
        } catch (IOException e) {
            throw new CertifyException("identity client: " + e.getMessage(), GrpcStatus.Code.UNKNOWN, null, e);
        }
        if (!chain.getFirst().getPublicKey().equals(keys.getPublic())) {
            throw new CertifyException("identity client: the leaf from " + config.server() + " is not for the key we sent", GrpcStatus.Code.UNKNOWN, null, null);
        }
        try {
            return new Credentials(config.identity(), keys.getPrivate(), chain);
        } catch (IllegalArgumentException e) {
            throw new CertifyException("identity client: " + e.getMessage(), GrpcStatus.Code.UNKNOWN, null, e);
        }
    }

    private String readToken() throws CertifyException {
        try {
            long size = Files.size(config.tokenFile());
            if (size > MAX_TOKEN_BYTES) {
                throw new CertifyException("identity client: token file " + config.tokenFile() + " is " + size + " bytes, over the " + MAX_TOKEN_BYTES + "-byte limit",
                        GrpcStatus.Code.UNKNOWN, null, null);
            }
            return Files.readString(config.tokenFile(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new CertifyException("identity client: cannot read token file " + config.tokenFile() + ": " + e, GrpcStatus.Code.UNKNOWN, null, e);
        }
    }

    private void renewAndReschedule() {
        if (closed) {
            return;
        }
        Duration delay;
        try {
            Credentials credentials = certifyOnce();
            delay = refreshDelay(credentials, clock.instant());
            log.info("identity: installed certificate for {} (serial {}), valid until {}; renewing in {}",
                    config.identity(), credentials.leaf().getSerialNumber().toString(16), credentials.notAfter(), delay);
        } catch (CertifyException e) {
            lastFailure = e.getMessage();
            delay = backoff(failures.incrementAndGet(), e.retryAfter());
            log.warn("{}; retrying in {}", e.getMessage(), delay);
        } catch (RuntimeException e) {
            lastFailure = "identity client: renewal of " + config.identity() + " failed: " + e;
            delay = backoff(failures.incrementAndGet(), Optional.empty());
            log.warn("{}; retrying in {}", lastFailure, delay);
        }
        notReadyReason(clock.instant()).ifPresent(reason -> log.error("identity client: not ready: {}", reason));
        if (!closed) {
            scheduler.schedule(this::renewAndReschedule, delay.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** Renewals that failed in a row since the last success. */
    public int consecutiveFailures() {
        return failures.get();
    }

    /**
     * Why the workload cannot serve mesh traffic, if it cannot: no certificate yet, the
     * certificate expired, or it is in the last tenth of its life and renewal keeps failing
     * (an outside review saw {@code /ready} answer 200 while every new connection failed,
     * once a token had expired and renewals with it). For readiness checks; never blocks.
     */
    public Optional<String> notReadyReason(Instant now) {
        Optional<Credentials> current = store.current();
        String why = lastFailure.isEmpty() ? "" : "; last renewal: " + lastFailure;
        if (current.isEmpty()) {
            return Optional.of("no certificate yet from " + config.server() + why);
        }
        Credentials credentials = current.get();
        if (!now.isBefore(credentials.notAfter())) {
            return Optional.of("the certificate expired at " + credentials.notAfter() + " and could not be renewed" + why);
        }
        Duration lifetime = Duration.between(credentials.leaf().getNotBefore().toInstant(), credentials.notAfter());
        Duration left = Duration.between(now, credentials.notAfter());
        if (failures.get() > 0 && left.compareTo(lifetime.dividedBy(10)) < 0) {
            return Optional.of("the certificate expires at " + credentials.notAfter() + " and " + failures.get() + " renewals in a row failed" + why);
        }
        return Optional.empty();
    }

    /** 70 % of the time the leaf has left, clamped to [minRefresh, maxRefresh]. */
    Duration refreshDelay(Credentials credentials, Instant now) {
        Duration remaining = Duration.between(now, credentials.notAfter());
        Duration delay = Duration.ofMillis(remaining.toMillis() * 7 / 10);
        if (delay.compareTo(config.minRefresh()) < 0) {
            return config.minRefresh();
        }
        return delay.compareTo(config.maxRefresh()) > 0 ? config.maxRefresh() : delay;
    }

    private Duration backoff(int attempt, Optional<Duration> hint) {
        long base = config.initialBackoff().toMillis() << Math.min(attempt - 1, 16);
        long capped = Math.min(base, config.maxBackoff().toMillis());
        long jittered = capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1);
        long withHint = Math.max(jittered, hint.map(Duration::toMillis).orElse(0L));
        return Duration.ofMillis(Math.min(withHint, config.maxBackoff().toMillis()));
    }

    /**
     * The server's retry hint: a {@code google.rpc.RetryInfo} among the details of the
     * {@code google.rpc.Status} it sent in {@code grpc-status-details-bin}; null when none.
     */
    static Duration retryHint(GrpcStatus status) {
        try {
            ProtoReader details = ProtoReader.of(status.details());
            while (details.next()) {
                if (details.field() != 3) {
                    details.skip();
                    continue;
                }
                ProtoReader any = details.readMessage();
                String type = "";
                ProtoReader value = null;
                while (any.next()) {
                    switch (any.field()) {
                        case 1 -> type = any.readString();
                        case 2 -> value = any.readMessage();
                        default -> any.skip();
                    }
                }
                if (type.endsWith("/google.rpc.RetryInfo") && value != null) {
                    while (value.next()) {
                        if (value.field() == 1) {
                            return value.readDuration();
                        }
                        value.skip();
                    }
                    return null;
                }
            }
        } catch (ProtoException ignored) {
            // Malformed details: no hint.
        }
        return null;
    }

    @Override
    public void close() {
        closed = true;
        // The channel first: its last callbacks may run on the scheduler, which must still take them.
        channel.close();
        scheduler.shutdownNow();
        ownLoop.ifPresent(loop -> loop.shutdownGracefully(0, 2, TimeUnit.SECONDS));
    }
}
