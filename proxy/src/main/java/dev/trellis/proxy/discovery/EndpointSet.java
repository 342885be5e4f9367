package dev.trellis.proxy.discovery;

import java.util.List;

/**
 * The endpoints of an authority at one moment. {@code exists} is false when the destination
 * service does not know the authority at all.
 */
public record EndpointSet(boolean exists, List<Endpoint> endpoints) {

    public EndpointSet {
        endpoints = List.copyOf(endpoints);
    }

    public static final EndpointSet UNKNOWN = new EndpointSet(false, List.of());

    public boolean isEmpty() {
        return endpoints.isEmpty();
    }
}
