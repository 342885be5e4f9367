package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.proxy.connlog.ConnectionLog;
import dev.trellis.proxy.errors.ProxyError;
import dev.trellis.proxy.http.RequestOutcomes;
import dev.trellis.proxy.transport.BoundListener;
import dev.trellis.proxy.transport.ByteCounter;
import io.netty.channel.Channel;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The connection log for an app connection the proxy carries per request (HTTP/1, HTTP/2):
 * each request the proxy refuses or fails itself gets a line of its own
 * ({@code outbound_request}, with the request's authority and the reason), and the
 * connection a line when it closes, with the bytes each way. The connection's decision is
 * {@code allowed} when at least one request went through (or none was made), else the last
 * refusal's: a connection whose every request was refused is not logged as allowed.
 */
final class HttpConnectionLog {

    private final ConnectionLog log;
    private final WorkloadIdentity self;

    HttpConnectionLog(ConnectionLog log, WorkloadIdentity self) {
        this.log = requireNonNull(log, "log");
        this.self = requireNonNull(self, "self");
    }

    /**
     * Counts {@code client}'s bytes, tracks its requests' outcomes and logs it when it
     * closes. Call before the HTTP path is installed, while the pending handler holds the
     * first bytes: the counter goes right before it, so held bytes (replayed from the head),
     * bytes a detector still holds, and everything after pass it.
     */
    void attach(Channel client, Optional<String> authority, String protocol) {
        Instant start = BoundListener.acceptedAt(client);
        AtomicLong sent = new AtomicLong();
        AtomicLong received = new AtomicLong();
        client.pipeline().addBefore("pending", "log-bytes", new ByteCounter(sent::addAndGet, received::addAndGet));
        ConnectionLog.OutboundConnection line = log.outbound(client, start, self.spiffeId(), protocol, authority, Optional.empty());
        // Per-request endpoints: no single destination or server identity; every request rides mTLS.
        line.carried(null, null, true, sent::get, received::get, "allowed");
        client.attr(RequestOutcomes.KEY).set(new Outcomes(line, ConnectionLog.addressOf(client)));
    }

    /** One connection's requests, counted on its event loop. */
    private final class Outcomes implements RequestOutcomes {
        private final ConnectionLog.OutboundConnection line;
        private final String source;
        private long forwarded;
        private long refused;

        Outcomes(ConnectionLog.OutboundConnection line, String source) {
            this.line = line;
            this.source = source;
        }

        @Override
        public void forwarded() {
            forwarded++;
            line.decide("allowed", refused == 0 ? null : refused + " of " + (forwarded + refused) + " requests refused by the proxy");
        }

        @Override
        public void refused(ProxyError error, String authority, String reason) {
            refused++;
            Instant now = Instant.now();
            log.record(new ConnectionLog.Entry(ConnectionLog.Event.OUTBOUND_REQUEST, now, self.spiffeId(), source, null, authority, null, "http",
                    false, null, 0, 0, Duration.ZERO, error.label(), reason));
            if (forwarded == 0) {
                line.decide(error.label(), "every request was refused by the proxy; the last: " + reason);
            } else {
                line.decide("allowed", refused + " of " + (forwarded + refused) + " requests refused by the proxy");
            }
        }
    }
}
