package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.metrics.Direction;
import dev.trellis.proxy.balance.Balancer;
import dev.trellis.proxy.h2.H2Stream;
import dev.trellis.proxy.metrics.HttpMetrics;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Headers;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A route's {@code RequestMirror}: a copy of a request, sent to another Service and forgotten.
 * The copy goes once the request is whole and its body held (at most 64 KiB: what the
 * retry layer keeps), to an endpoint of the mirror's Service over mTLS like any request; its
 * answer is read and dropped, and counted under the mirror's authority. A mirror that cannot
 * be resolved, reached or answered costs the client nothing: the client sees only the
 * primary's answer. Thread-safe; one per proxy.
 */
final class Mirrors {

    private static final Logger log = LoggerFactory.getLogger(Mirrors.class);

    private final Targets targets;
    private final EndpointStreams endpoints;
    private final HttpMetrics metrics;

    Mirrors(Targets targets, EndpointStreams endpoints, HttpMetrics metrics) {
        this.targets = requireNonNull(targets, "targets");
        this.endpoints = requireNonNull(endpoints, "endpoints");
        this.metrics = requireNonNull(metrics, "metrics");
    }

    /** Whether this request is one of the {@code percent} % a mirror takes. */
    static boolean chosen(int percent) {
        return percent >= 100 || (percent > 0 && ThreadLocalRandom.current().nextInt(100) < percent);
    }

    /**
     * Sends a copy of a request to {@code authority}: {@code head} (what the path's own requests
     * open an endpoint's stream with: the request's headers, the endpoint's target port) then
     * {@code body}, whose buffers this takes and releases. Runs the copy on {@code loop}.
     */
    void send(String authority, java.util.function.Function<Balancer.Lease, Http2Headers> head, List<ByteBuf> body, EventLoop loop) {
        long started = System.nanoTime();
        targets.resolve(authority, loop, target -> {
            if (!(target instanceof Target.Resolved resolved)) {
                release(body);
                log.debug("proxy: mirror to {}: {}", authority, ((Target.Unresolved) target).why().getMessage());
                return;
            }
            Optional<Balancer.Lease> picked = endpoints.pick(resolved.endpoints(), Set.of());
            if (picked.isEmpty()) {
                release(body);
                return;
            }
            Answer answer = new Answer(authority, picked.get(), started);
            endpoints.open(picked.get(), loop, answer, head, body.isEmpty(), new EndpointStreams.Opening() {
                @Override
                public void opened(H2Stream stream, Balancer.Lease lease) {
                    for (int i = 0; i < body.size(); i++) {
                        stream.writeData(body.get(i), i == body.size() - 1);
                    }
                    stream.flush();
                }

                @Override
                public void failed(EndpointStreams.CannotOpen why, Balancer.Lease lease) {
                    if (why.unprocessed()) {
                        lease.succeeded();
                    }
                    release(body);
                    log.debug("proxy: mirror to {}: {}", authority, why.why().getMessage());
                }
            });
        });
    }

    private static void release(List<ByteBuf> body) {
        body.forEach(ByteBuf::release);
    }

    /** Reads the mirror's answer and drops it: its status is counted, its lease settled. */
    private final class Answer implements H2Stream.Listener {
        private final String authority;
        private final Balancer.Lease lease;
        private final long started;
        private boolean settled;

        Answer(String authority, Balancer.Lease lease, long started) {
            this.authority = authority;
            this.lease = lease;
            this.started = started;
        }

        @Override
        public void headers(Http2Headers headers, boolean endStream) {
            CharSequence status = headers.status();
            if (!settled && status != null && status.length() == 3 && status.charAt(0) != '1') {
                settled = true;
                lease.succeeded();
                metrics.response(Direction.OUTBOUND, authority, Integer.parseInt(status.toString()), Duration.ofNanos(System.nanoTime() - started));
            }
        }

        @Override
        public void data(ByteBuf data, boolean endStream) {
            data.release();
        }

        @Override
        public void closed() {
            if (!settled) {
                settled = true;
                lease.failed();
            }
        }
    }
}
