package dev.trellis.tls.context;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.tls.pki.MeshCertificates;
import dev.trellis.tls.pki.TrustAnchors;
import java.security.cert.CertificateException;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The current credentials of one workload, and the trust anchors they must chain to.
 *
 * <p>Writers (the identity client, a static loader) {@link #install} new credentials; TLS
 * contexts read {@link #current} at every handshake. {@code install} refuses credentials
 * that are expired, not yet valid, for another identity, or that do not chain to the
 * anchors, so a bad certificate never replaces a good one. Thread-safe.
 */
public final class CredentialsStore {

    /** Credentials with the generation they were installed as; generations only grow. */
    record Installed(long generation, Credentials credentials) {}

    private final WorkloadIdentity identity;
    private final TrustAnchors trustAnchors;
    private final Clock clock;
    private final AtomicReference<Installed> current = new AtomicReference<>();
    private final AtomicReference<Installed> previous = new AtomicReference<>();
    private final CompletableFuture<Credentials> first = new CompletableFuture<>();
    private final CopyOnWriteArrayList<Consumer<Credentials>> listeners = new CopyOnWriteArrayList<>();

    public CredentialsStore(WorkloadIdentity identity, TrustAnchors trustAnchors, Clock clock) {
        this.identity = requireNonNull(identity, "identity");
        this.trustAnchors = requireNonNull(trustAnchors, "trustAnchors");
        this.clock = requireNonNull(clock, "clock");
    }

    public WorkloadIdentity identity() {
        return identity;
    }

    public TrustAnchors trustAnchors() {
        return trustAnchors;
    }

    /** The credentials in force, if any were installed yet. */
    public Optional<Credentials> current() {
        Installed installed = current.get();
        return installed == null ? Optional.empty() : Optional.of(installed.credentials());
    }

    /** Completes when the first credentials are installed. */
    public CompletableFuture<Credentials> firstInstalled() {
        return first.copy();
    }

    /** Called with every newly installed credentials, on the installing thread. */
    public void onInstall(Consumer<Credentials> listener) {
        listeners.add(requireNonNull(listener, "listener"));
    }

    /**
     * Makes {@code credentials} current after checking them.
     *
     * @throws CertificateException naming why the credentials were refused; the current ones stay
     */
    public void install(Credentials credentials) throws CertificateException {
        requireNonNull(credentials, "credentials");
        WorkloadIdentity leafIdentity = MeshCertificates.identityOf(credentials.leaf());
        if (!leafIdentity.equals(identity) || !credentials.identity().equals(identity)) {
            throw new CertificateException("tls: certificate is for " + leafIdentity + ", this workload is " + identity);
        }
        trustAnchors.verify(credentials.chain(), clock.instant());
        synchronized (this) {
            Installed old = current.get();
            long generation = old == null ? 1 : old.generation() + 1;
            previous.set(old);
            current.set(new Installed(generation, credentials));
        }
        first.complete(credentials);
        for (Consumer<Credentials> listener : listeners) {
            listener.accept(credentials);
        }
    }

    Installed installed() {
        return current.get();
    }

    /**
     * The credentials of {@code generation}, if they are the current or the previous ones.
     * A handshake picks an alias, then asks for its chain and key; keeping the previous
     * generation means a rotation between those two calls cannot mix one chain with another key.
     */
    Optional<Credentials> generation(long generation) {
        Installed now = current.get();
        if (now != null && now.generation() == generation) {
            return Optional.of(now.credentials());
        }
        Installed before = previous.get();
        if (before != null && before.generation() == generation) {
            return Optional.of(before.credentials());
        }
        return Optional.empty();
    }
}
