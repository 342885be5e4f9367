package dev.trellis.api.server;

import static java.util.Objects.requireNonNull;

import io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.SslContext;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The one way the control plane and the proxy build gRPC servers, so that every one of them
 * is bounded alike (an outside review found the identity, destination and tap servers taking
 * 20,000 HEADERS+RST_STREAM on one connection without a GOAWAY — CVE-2023-44487, "rapid
 * reset"):
 * <ul>
 *   <li>at most {@value #MAX_RESETS} client resets per {@value #RESET_WINDOW_SECONDS} s on a
 *       connection, past which it gets GOAWAY and is closed;</li>
 *   <li>{@value #MAX_CALLS_PER_CONNECTION} concurrent calls per connection, {@value #MAX_METADATA_BYTES}
 *       bytes of metadata (the header list), 4 MiB messages unless the caller lowers it;</li>
 *   <li>10 s for the TLS handshake; keepalive pings every 60 s with 20 s to answer, and a
 *       client may ping at most every 30 s, never without calls; connections idle for 5 min
 *       are closed.</li>
 * </ul>
 * Callers add their services and may tighten any of these.
 */
public final class MeshGrpcServers {

    public static final int MAX_RESETS = 100;
    public static final int RESET_WINDOW_SECONDS = 10;
    public static final int MAX_CALLS_PER_CONNECTION = 100;
    public static final int MAX_METADATA_BYTES = 8 * 1024;
    public static final int MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

    private MeshGrpcServers() {
    }

    /** A server builder on {@code address} with TLS {@code context} and every bound above. */
    public static NettyServerBuilder forAddress(SocketAddress address, SslContext context) {
        return NettyServerBuilder.forAddress(requireNonNull(address, "address"))
                .sslContext(requireNonNull(context, "context"))
                .maxRstFramesPerWindow(MAX_RESETS, RESET_WINDOW_SECONDS)
                .maxConcurrentCallsPerConnection(MAX_CALLS_PER_CONNECTION)
                .maxInboundMetadataSize(MAX_METADATA_BYTES)
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                .handshakeTimeout(10, TimeUnit.SECONDS)
                .keepAliveTime(60, TimeUnit.SECONDS)
                .keepAliveTimeout(20, TimeUnit.SECONDS)
                .permitKeepAliveTime(30, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(false)
                .maxConnectionIdle(5, TimeUnit.MINUTES);
    }
}
