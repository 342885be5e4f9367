package dev.trellis.proxy.outbound;

import static java.util.Objects.requireNonNull;

import dev.trellis.core.identity.WorkloadIdentity;
import dev.trellis.proxy.transport.ByteCounter;
import io.netty.channel.Channel;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The connection log's line for an app connection the proxy carries per request (HTTP/1,
 * HTTP/2): written when the connection closes, with the bytes each way. Its requests went to
 * meshed endpoints over mTLS (chosen per request, so no single server identity is named).
 */
public final class HttpConnectionLog {

    private final ConnectionLog log;
    private final WorkloadIdentity self;

    public HttpConnectionLog(ConnectionLog log, WorkloadIdentity self) {
        this.log = requireNonNull(log, "log");
        this.self = requireNonNull(self, "self");
    }

    /**
     * Counts {@code client}'s bytes and logs it when it closes. Call before the HTTP path is
     * installed, while the pending handler holds the first bytes: the counter goes right
     * before it, so held bytes (replayed from the head), bytes a detector still holds, and
     * everything after pass it.
     */
    void attach(Channel client, Optional<String> authority, String protocol) {
        Instant start = Instant.now();
        AtomicLong sent = new AtomicLong();
        AtomicLong received = new AtomicLong();
        client.pipeline().addBefore("pending", "log-bytes", new ByteCounter(sent::addAndGet, received::addAndGet));
        client.closeFuture().addListener(f -> log.record(new ConnectionLog.Entry(start, self.spiffeId(), null, authority.orElse(null), null, protocol,
                true, null, sent.get(), received.get(), Duration.between(start, Instant.now()), "allowed")));
    }
}
