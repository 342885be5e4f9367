package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.discovery.EndpointSet;
import dev.trellis.proxy.discovery.Resolution;
import dev.trellis.proxy.errors.ProxyFailure;

/**
 * Where an outbound connection or request goes, decided once by {@link Targets}: an authority
 * discovery has answered for, or the reason it cannot go anywhere. Each path takes this value
 * and either carries the traffic or refuses it with {@link Unresolved#why}; none asks discovery
 * again.
 */
sealed interface Target {

    /** {@code host:port}, as the app named it or as its connection was addressed. */
    String authority();

    /** Discovery has answered for {@code authority}; its endpoints stay current as discovery updates them. */
    record Resolved(String authority, Resolution resolution) implements Target {
        public Resolved {
            requireNonNull(authority, "authority");
            requireNonNull(resolution, "resolution");
        }

        /** The endpoints now. */
        EndpointSet endpoints() {
            return resolution.current();
        }
    }

    /** No answer: too many authorities resolved already, or none from discovery or identity in time. */
    record Unresolved(String authority, ProxyFailure why) implements Target {
        public Unresolved {
            requireNonNull(authority, "authority");
            requireNonNull(why, "why");
        }
    }
}
