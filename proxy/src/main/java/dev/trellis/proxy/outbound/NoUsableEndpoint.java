package dev.trellis.proxy.outbound;

import dev.trellis.proxy.discovery.Endpoint;
import dev.trellis.proxy.discovery.EndpointSet;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import java.util.stream.Collectors;

/**
 * Why a request found no endpoint it could ride to: the authority is unknown, has no
 * endpoints, or has only unmeshed ones, which the HTTP path (HTTP/2 over mTLS between
 * proxies) cannot reach. The last is a configuration mistake worth naming: a local-mode Pod
 * without its proxy's inbound-port annotation, say.
 */
final class NoUsableEndpoint {

    private NoUsableEndpoint() {
    }

    static ProxyFailure why(String authority, EndpointSet endpoints) {
        if (!endpoints.exists()) {
            return ProxyError.NO_ENDPOINTS.because(authority + " is unknown to discovery");
        }
        if (endpoints.isEmpty()) {
            return ProxyError.NO_ENDPOINTS.because(authority + " has no endpoints");
        }
        if (endpoints.meshed().isEmpty()) {
            return ProxyError.ENDPOINT_NOT_MESHED.because(authority + " has endpoints, but none is meshed (no proxy identity announced for "
                    + endpoints.endpoints().stream().limit(5).map(Endpoint::address).map(String::valueOf).collect(Collectors.joining(", "))
                    + "); in local mode, give each Pod the config.trellis.dev/proxy-inbound-port annotation");
        }
        return ProxyError.CONNECT_FAILED.because(authority + ": every meshed endpoint failed this request");
    }
}
