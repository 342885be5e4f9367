package dev.trellis.proxy.discovery;

import java.util.List;

/**
 * The endpoints of an authority at one moment. {@code exists} is false when the destination
 * service does not know the authority at all. {@link #meshed()} (those with a proxy, i.e. an
 * identity to verify) is worked out once per update, not once per request.
 */
public record EndpointSet(boolean exists, List<Endpoint> endpoints, List<Endpoint> meshed) {

    public EndpointSet {
        endpoints = List.copyOf(endpoints);
        meshed = List.copyOf(meshed);
    }

    public EndpointSet(boolean exists, List<Endpoint> endpoints) {
        this(exists, endpoints, endpoints.stream().filter(e -> e.identity().isPresent()).toList());
    }

    public static final EndpointSet UNKNOWN = new EndpointSet(false, List.of());

    public boolean isEmpty() {
        return endpoints.isEmpty();
    }
}
