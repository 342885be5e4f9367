package dev.trellis.proxy.http;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.errors.ProxyFailure;
import dev.trellis.proxy.metrics.HttpMetrics;
import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.h2.HeldFrames;
import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2Headers;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where an HTTP path tells that the proxy answered a request itself, one instance per
 * direction: the log line (what, from whom, the status and reason), the refusal counter, and
 * the outcome for the connection's log line ({@link RequestOutcomes}: outbound connections have
 * one; inbound, each refusal is a connection-log line of its own, which the inbound path writes
 * with the request's start and target port). The path writes the answer; this records it, the
 * same way from every place that refuses.
 */
public final class Refusals {

    private static final Logger log = LoggerFactory.getLogger(Refusals.class);

    private final Direction direction;
    private final HttpMetrics metrics;

    public Refusals(Direction direction, HttpMetrics metrics) {
        this.direction = requireNonNull(direction, "direction");
        this.metrics = requireNonNull(metrics, "metrics");
    }

    public Direction direction() {
        return direction;
    }

    /**
     * {@code what} was refused on {@code channel} (a connection or one of its HTTP/2 streams):
     * a request ({@code GET /path}) or the connection itself; {@code authority} is where it was
     * going, {@code null} when it named none.
     */
    public void refused(Channel channel, String what, String authority, ProxyFailure why) {
        log.info("proxy: {} {} from {}{} refused ({} {}): {}", direction, what, channel.remoteAddress(), authority == null ? "" : " to " + authority,
                why.error().httpStatus(), why.error().label(), why.getMessage());
        metrics.refused(direction, why.error());
        RequestOutcomes.of(channel).refused(why.error(), authority, why.getMessage());
    }

    /**
     * The proxy answers an HTTP/2 request itself with {@code why}'s error (a gRPC status for
     * gRPC), counted as the request's response; what {@code held} holds of it (may be null) is
     * dropped. Logging the refusal is {@link #refused}'s.
     */
    public void answer(H2Stream stream, HeldFrames held, Http2Headers request, String authority, ProxyFailure why, long started) {
        if (held != null) {
            held.discard();
        }
        boolean grpc = ProxyErrors.isGrpc(request);
        metrics.response(direction, authority, grpc ? 200 : why.error().httpStatus(),
                grpc ? java.util.Optional.of(why.error().grpcCode().value()) : java.util.Optional.empty(),
                java.time.Duration.ofNanos(System.nanoTime() - started));
        ProxyErrors.answer(stream, why.error(), grpc);
    }
}
