package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.net.HostPort;
import dev.trellis.proxy.Forward;
import dev.trellis.proxy.detect.ProtocolDetector;
import dev.trellis.proxy.tcp.Relay;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.HalfClosure;
import dev.trellis.proxy.transport.IoRuntime;
import dev.trellis.proxy.transport.Openings;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A local port for one opaque destination ({@code --forward PORT=authority}): every
 * connection to it is carried by {@link OpaqueOutbound} to an endpoint of {@code authority}.
 */
public final class ForwardListener {

    private static final Logger log = LoggerFactory.getLogger(ForwardListener.class);

    private final Forward forward;
    private final IoRuntime io;
    private final OpaqueOutbound outbound;
    private final Targets targets;
    private final HttpOutbound http;
    private final H2Outbound h2;
    private final HttpConnectionLog httpLog;
    private final java.time.Duration detectTimeout;
    private final Openings openings;
    private BoundListener listener;

    ForwardListener(Forward forward, IoRuntime io, Targets targets, OpaqueOutbound outbound, HttpOutbound http, H2Outbound h2, HttpConnectionLog httpLog,
                           java.time.Duration detectTimeout, int maxOpeningPerSource) {
        this.openings = new Openings(maxOpeningPerSource);
        this.httpLog = requireNonNull(httpLog, "httpLog");
        this.forward = requireNonNull(forward, "forward");
        this.io = requireNonNull(io, "io");
        this.outbound = requireNonNull(outbound, "outbound");
        this.targets = requireNonNull(targets, "targets");
        this.http = requireNonNull(http, "http");
        this.h2 = requireNonNull(h2, "h2");
        this.detectTimeout = requireNonNull(detectTimeout, "detectTimeout");
    }

    /** Binds the local port. */
    ForwardListener start() throws InterruptedException {
        listener = BoundListener.bind(io, forward.listen(), "forward to " + forward.authority(), false, Optional.of(openings), ch -> {
                HalfClosure.allow(ch);
                ch.pipeline().addLast("pending", Relay.pending());
                // Resolved once per connection; the path it takes carries it there.
                targets.resolve(forward.authority(), ch.eventLoop(), target -> dispatch(ch, target));
        });
        log.info("proxy: forwarding {} to {}", address(), forward.authority());
        return this;
    }

    /** An opaque forward, or an unresolved target (refused), goes to {@link OpaqueOutbound}; an HTTP forward's connection once its protocol is known. */
    private void dispatch(Channel ch, Target target) {
        if (!forward.http() || !(target instanceof Target.Resolved resolved)) {
            outbound.carry(ch, target, Optional.empty(), OpaqueOutbound.Seen.OPAQUE);
            return;
        }
        ProtocolDetector.detectThen(ch, detectTimeout, detection -> {
                    switch (detection.protocol()) {
                        case HTTP1 -> {
                            httpLog.attach(ch, Optional.of(forward.authority()), "http1");
                            http.install(ch, Optional.of(resolved));
                            Relay.replay(ch);
                            ch.config().setAutoRead(true);
                        }
                        case HTTP2 -> {
                            httpLog.attach(ch, Optional.of(forward.authority()), "http2");
                            h2.install(ch, resolved);
                        }
                        default -> {
                            log.info("proxy: {} on the HTTP forward to {} did not speak HTTP ({}); closing", ch.remoteAddress(), forward.authority(), detection.protocol());
                            ch.close();
                        }
                    }
                });
    }

    public InetSocketAddress address() {
        return listener.address();
    }

    /** The bound listener and its connections, for draining. */
    public BoundListener listener() {
        return listener;
    }




}
