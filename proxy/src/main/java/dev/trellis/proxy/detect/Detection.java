package dev.trellis.proxy.detect;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * What a connection's first bytes showed.
 *
 * @param protocol what was detected
 * @param sni      for TLS, the server name the client asked for, when it sent one
 * @param timedOut true when the client sent too little before the detection timeout and the
 *                 connection was declared opaque for that reason
 */
public record Detection(Protocol protocol, Optional<String> sni, boolean timedOut) {

    /** Protocols the proxy tells apart. */
    public enum Protocol {
        HTTP1,
        HTTP2,
        TLS,
        OPAQUE
    }

    public Detection {
        requireNonNull(protocol, "protocol");
        requireNonNull(sni, "sni");
    }

    public static Detection of(Protocol protocol) {
        return new Detection(protocol, Optional.empty(), false);
    }
}
