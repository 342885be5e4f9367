package dev.trellis.proxy.transport;

import java.util.List;

/** ALPN protocol names negotiated on the mTLS hop between two proxies. */
public final class MeshProtocols {

    /** Opaque TCP, preceded by a {@link TransportHeader}. */
    public static final String OPAQUE_TCP = "trellis.dev/tcp-v1";
    /** HTTP of any version, carried as HTTP/2 streams on one multiplexed connection. */
    public static final String HTTP2 = "h2";

    /** What an inbound listener offers, most preferred first. */
    public static final List<String> INBOUND = List.of(HTTP2, OPAQUE_TCP);

    private MeshProtocols() {}
}
