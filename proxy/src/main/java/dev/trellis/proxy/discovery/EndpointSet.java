package dev.trellis.proxy.discovery;

import java.util.List;
import java.util.Objects;

/**
 * The endpoints of an authority at one moment. {@code exists} is false when the destination
 * service does not know the authority at all. {@link #meshed()} (those with a proxy, i.e. an
 * identity to verify) is worked out once per update, not once per request.
 */
public final class EndpointSet {

    public static final EndpointSet UNKNOWN = new EndpointSet(false, List.of());

    private final boolean exists;
    private final List<Endpoint> endpoints;
    private final List<Endpoint> meshed;

    public EndpointSet(boolean exists, List<Endpoint> endpoints) {
        this.exists = exists;
        this.endpoints = List.copyOf(endpoints);
        this.meshed = this.endpoints.stream().filter(e -> e.identity().isPresent()).toList();
    }

    public boolean exists() {
        return exists;
    }

    public List<Endpoint> endpoints() {
        return endpoints;
    }

    /** The endpoints with a proxy identity, in the same order. */
    public List<Endpoint> meshed() {
        return meshed;
    }

    public boolean isEmpty() {
        return endpoints.isEmpty();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof EndpointSet set && exists == set.exists && endpoints.equals(set.endpoints);
    }

    @Override
    public int hashCode() {
        return Objects.hash(exists, endpoints);
    }

    @Override
    public String toString() {
        return "EndpointSet[exists=" + exists + ", endpoints=" + endpoints + "]";
    }
}
