package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.discovery.EndpointSet;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.h2.H2Connection;
import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.transport.IoRuntime;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The one place both outbound HTTP paths (HTTP/1 and HTTP/2 from the app) pick an endpoint,
 * reach its connection and open a request's stream on it. The lease is the caller's to settle
 * once the response's head says how the endpoint did; a failure here settles it already.
 * Thread-safe; one per proxy.
 */
final class EndpointStreams {

    /** Why no stream was opened; nothing of the request was sent. */
    record CannotOpen(ProxyFailure why, boolean unprocessed) {
        /** The connection was fine but took no new stream (GOAWAY, its stream limit): any method may go again. */
        static CannotOpen refused(InetSocketAddress endpoint, String why) {
            return new CannotOpen(ProxyError.CONNECT_FAILED.because(endpoint + ": " + why), true);
        }
    }

    /** What becomes of an opening; called on the loop the opening was asked on. */
    interface Opening {
        /** The stream is open and its first headers are written (not yet flushed). */
        void opened(H2Stream stream, Balancer.Lease lease);

        void failed(CannotOpen why, Balancer.Lease lease);
    }

    /** Where the connection to an endpoint comes from ({@link H2Connections}; a test's own). */
    interface Connections {
        /** A connection to {@code endpoint} with an {@link H2Connection} in its pipeline, made on {@code loop} when needed. */
        io.netty.util.concurrent.Future<Channel> connection(dev.trellis.proxy.discovery.Endpoint endpoint, EventLoop loop);
    }

    private final Balancer balancer;
    private final Connections connections;

    EndpointStreams(Balancer balancer, Connections connections) {
        this.balancer = requireNonNull(balancer, "balancer");
        this.connections = requireNonNull(connections, "connections");
    }

    /** An endpoint of {@code endpoints} (the meshed ones) other than those in {@code avoid}, leased for one request. */
    Optional<Balancer.Lease> pick(EndpointSet endpoints, Set<InetSocketAddress> avoid) {
        return balancer.pick(endpoints.meshed(), avoid);
    }

    /**
     * Opens a stream to {@code lease}'s endpoint that {@code listener} hears, its first headers
     * {@code headers(lease)}; {@code opening} learns the outcome on {@code loop}.
     */
    void open(Balancer.Lease lease, EventLoop loop, H2Stream.Listener listener, Function<Balancer.Lease, Http2Headers> headers, boolean endStream,
              Opening opening) {
        open(lease, loop, listener, headers, endStream, opening, true);
    }

    /** {@code askAgain}: a connection that filled up (its peer's stream limit) since it was handed out gets one more ask, for another. */
    private void open(Balancer.Lease lease, EventLoop loop, H2Stream.Listener listener, Function<Balancer.Lease, Http2Headers> headers, boolean endStream,
                      Opening opening, boolean askAgain) {
        connections.connection(lease.endpoint(), loop).addListener(connected -> IoRuntime.runOn(loop, () -> {
            if (!connected.isSuccess()) {
                lease.failed();
                opening.failed(new CannotOpen(ProxyFailure.errorOf(connected.cause(), ProxyError.CONNECT_FAILED).because(connected.cause().getMessage()),
                        false), lease);
                return;
            }
            Channel channel = (Channel) connected.getNow();
            IoRuntime.runOn(channel.eventLoop(), () -> {
                H2Connection connection = H2Connection.of(channel);
                if (askAgain && connection != null && connection.atStreamLimit()) {
                    open(lease, loop, listener, headers, endStream, opening, false);
                    return;
                }
                openOn(connection, lease, loop, listener, headers, endStream, opening);
            });
        }));
    }

    private static void openOn(H2Connection connection, Balancer.Lease lease, EventLoop loop, H2Stream.Listener listener,
                               Function<Balancer.Lease, Http2Headers> headers, boolean endStream, Opening opening) {
        if (connection == null || !connection.takesNewStreams()) {
            // Going away since it was handed out: the request was never sent.
            IoRuntime.runOn(loop, () -> opening.failed(CannotOpen.refused(lease.endpoint().address(), "its connection takes no new streams"), lease));
            return;
        }
        boolean[] refused = new boolean[1];
        H2Stream stream = connection.open(new H2Stream.Listener() {
            @Override
            public void headers(Http2Headers h, boolean end) {
            }

            @Override
            public void data(io.netty.buffer.ByteBuf data, boolean end) {
                data.release();
            }

            @Override
            public void refused() {
                refused[0] = true;
            }

            @Override
            public void closed() {
            }
        });
        // The request's latency, not the shared connection's set-up, is the endpoint's.
        lease.restartClock();
        stream.writeHeaders(headers.apply(lease), endStream);
        if (refused[0]) {
            IoRuntime.runOn(loop, () -> opening.failed(CannotOpen.refused(lease.endpoint().address(), "no stream could be opened"), lease));
            return;
        }
        stream.listener(listener);
        IoRuntime.runOn(loop, () -> opening.opened(stream, lease));
    }
}
