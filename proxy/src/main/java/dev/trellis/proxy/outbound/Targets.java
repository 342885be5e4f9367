package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.discovery.Discovery;
import dev.trellis.proxy.discovery.Resolution;
import dev.trellis.proxy.discovery.RouteProfiles;
import java.util.concurrent.CompletableFuture;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.tls.context.CredentialsStore;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * Turns an authority into a {@link Target}: the one place the outbound side asks discovery.
 * A target is answered once discovery has answered for the authority, its route profile has
 * come (so that even the first request follows its routes: their filters, backends and
 * policies), and the proxy has its first certificate (nothing meshed can leave before), within
 * the resolve timeout. Thread-safe; one instance serves every outbound listener.
 */
final class Targets {

    private final Discovery discovery;
    private final RouteProfiles profiles;
    private final CredentialsStore credentials;
    private final Duration timeout;

    Targets(Discovery discovery, RouteProfiles profiles, CredentialsStore credentials, Duration timeout) {
        this.discovery = requireNonNull(discovery, "discovery");
        this.profiles = requireNonNull(profiles, "profiles");
        this.credentials = requireNonNull(credentials, "credentials");
        this.timeout = requireNonNull(timeout, "timeout");
    }

    /**
     * Tells {@code then} the target for {@code authority}: at once, on this thread, when discovery
     * has already answered (the hot path), otherwise on {@code loop}.
     */
    void resolve(String authority, Executor loop, Consumer<Target> then) {
        Resolution resolution;
        try {
            resolution = discovery.resolve(authority);
        } catch (IllegalStateException tooMany) {
            then.accept(new Target.Unresolved(authority, ProxyError.RESOLUTION_REFUSED.because(tooMany.getMessage())));
            return;
        }
        CompletableFuture<Void> profile = profiles.firstProfile(authority);
        // Both done on the hot path: no future is made per request.
        CompletableFuture<?> alsoWaitFor = profile.isDone() ? credentials.firstInstalled() : CompletableFuture.allOf(credentials.firstInstalled(), profile);
        resolution.whenAnswered(alsoWaitFor, timeout, loop, error -> then.accept(error.isPresent()
                ? new Target.Unresolved(authority, ProxyError.RESOLVE_TIMEOUT.because("no answer from discovery, route profiles or identity for "
                        + authority + " within " + timeout))
                : new Target.Resolved(authority, resolution)));
    }

    /**
     * The targets of one client connection, whose listener may already have resolved one: that
     * one answers the connection's first request for its authority, and a resolved target
     * answers every later request for the same authority; a failure is not kept (the next
     * request asks again). Confined to the connection's event loop.
     */
    OfConnection ofConnection(Optional<Target> known) {
        return new OfConnection(known.orElse(null));
    }

    final class OfConnection {
        private Target held;

        private OfConnection(Target known) {
            this.held = known;
        }

        void resolve(String authority, Executor loop, Consumer<Target> then) {
            Target known = held;
            if (known != null && known.authority().equals(authority)) {
                if (!(known instanceof Target.Resolved)) {
                    held = null;
                }
                then.accept(known);
                return;
            }
            Targets.this.resolve(authority, loop, target -> {
                held = target instanceof Target.Resolved ? target : null;
                then.accept(target);
            });
        }
    }
}
