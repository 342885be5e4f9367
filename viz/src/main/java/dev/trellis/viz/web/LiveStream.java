package dev.trellis.viz.web;

import static java.util.Objects.requireNonNull;

import dev.trellis.admin.BoundedHttpListener;
import dev.trellis.ratelimit.TokenBucket;
import dev.trellis.viz.Viz;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * Runs live streams: taps the filter's pods through {@link Viz#tap}, joins their events into
 * one JSON line per request ({@link LiveTap}) and writes them to the browser as they come.
 * Bounded: {@code liveStreamsPerUser} streams per user, {@code liveLinesPerSecond} lines per
 * second per stream, nothing queued for a reader that does not keep up (a line that finds the
 * connection unwritable is dropped and counted), {@code liveMaxDuration} at most, and no longer
 * than the session it was started under. Each
 * second a {@code stats} line says how many were sent and dropped. Starts and ends are logged
 * with the user. Thread-safe.
 */
final class LiveStream {

    private static final Logger log = LoggerFactory.getLogger(LiveStream.class);
    /** Requests per pod a proxy's tap serves before it ends (the proxy's own cap); the stream opens the taps again. */
    private static final int TAP_LIMIT = 10_000;
    private static final Duration FLUSH_EVERY = Duration.ofMillis(50);

    private final Viz viz;
    private final DashboardConfig config;
    private final Sessions sessions;
    private final Map<String, AtomicInteger> streamsByUser = new ConcurrentHashMap<>();
    private final JsonMapper json = JsonMapper.builder().build();

    LiveStream(Viz viz, DashboardConfig config, Sessions sessions) {
        this.viz = requireNonNull(viz, "viz");
        this.config = requireNonNull(config, "config");
        this.sessions = requireNonNull(sessions, "sessions");
    }

    /** The stream for {@code start}, or a 429 when its user holds as many streams as allowed. */
    BoundedHttpListener.Reply open(Dashboard.LiveStart start) {
        String user = start.session().viewer.user();
        AtomicInteger streams = streamsByUser.computeIfAbsent(user, u -> new AtomicInteger());
        if (streams.incrementAndGet() > config.liveStreamsPerUser()) {
            streams.decrementAndGet();
            log.warn("dashboard: refused a live stream for {}: {} already open", user, config.liveStreamsPerUser());
            return DashboardServer.reply(WebAnswer.error(429, "dashboard: " + user + " has " + config.liveStreamsPerUser()
                    + " live streams open already; stop one first"));
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        DashboardServer.securityHeaders(head.headers());
        head.headers().set("Content-Type", "application/x-ndjson");
        return new BoundedHttpListener.Reply.Streamed(head, ctx -> new Running(start, ctx, streams).begin());
    }

    /** A pod's tap, registered before it is opened. */
    private static final class OpenTap implements AutoCloseable {
        volatile AutoCloseable tap;

        @Override
        public void close() throws Exception {
            AutoCloseable current = tap;
            if (current != null) {
                current.close();
            }
        }
    }

    /** One stream on one connection. */
    private final class Running {
        private final Dashboard.LiveStart start;
        private final Channel channel;
        private final AtomicInteger userStreams;
        private final TokenBucket rate;
        private final LiveTap joiner;
        private final AtomicLong sent = new AtomicLong();
        private final AtomicLong dropped = new AtomicLong();
        private final AtomicBoolean ended = new AtomicBoolean();
        private final AtomicBoolean flushPending = new AtomicBoolean();
        private final long began = System.nanoTime();
        /** The open taps, by pod name. */
        private final Map<String, OpenTap> taps = new ConcurrentHashMap<>();

        Running(Dashboard.LiveStart start, ChannelHandlerContext ctx, AtomicInteger userStreams) {
            this.start = start;
            this.channel = ctx.channel();
            this.userStreams = userStreams;
            this.rate = new TokenBucket(config.liveLinesPerSecond(), config.liveLinesPerSecond(), System.nanoTime());
            this.joiner = new LiveTap(start.filter(), this::send);
        }

        void begin() {
            LiveTap.Filter filter = start.filter();
            log.info("dashboard: {} started live tap of namespace {}{}{}{}{}", user(), filter.namespace(),
                    filter.workload().map(w -> " " + w.kind() + "/" + w.name()).orElse(""),
                    filter.pathPrefix().isEmpty() ? "" : " path " + filter.pathPrefix(), filter.method().isEmpty() ? "" : " method " + filter.method(),
                    filter.status().map(s -> " status " + s).orElse(""));
            var heartbeat = channel.eventLoop().scheduleAtFixedRate(() -> {
                if (!sessions.isLive(start.session())) {
                    end("the session ended (logout or expiry)");  // a stream lives no longer than the login it started under
                    return;
                }
                stats();
                reconcileTaps();
            }, 1, 1, TimeUnit.SECONDS);
            var limit = channel.eventLoop().schedule(() -> end("time limit of " + config.liveMaxDuration().toMinutes() + " min reached"),
                    config.liveMaxDuration().toNanos(), TimeUnit.NANOSECONDS);
            channel.closeFuture().addListener(closed -> {
                heartbeat.cancel(false);
                limit.cancel(false);
                ended.set(true);
                taps.values().forEach(Running::closeQuietly);
                taps.clear();
                userStreams.decrementAndGet();
                log.info("dashboard: {} live tap of namespace {} ended after {} s: {} requests sent, {} dropped", user(), filter.namespace(),
                        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - began), sent.get(), dropped.get());
            });
            reconcileTaps();
        }

        /**
         * Each second: every pod the filter names has a tap open. A pod's tap ends at the proxy's
         * limit, when its proxy restarts, or when the pod goes; it is opened again here, at most
         * once a second, and pods that appeared since the stream began are tapped too.
         */
        private void reconcileTaps() {
            if (ended.get()) {
                return;
            }
            LiveTap.Filter filter = start.filter();
            java.util.Set<String> wanted = new java.util.HashSet<>();
            for (io.fabric8.kubernetes.api.model.Pod pod : viz.tapTargets(filter.namespace(), filter.workload())) {
                String key = pod.getMetadata().getName();
                wanted.add(key);
                if (taps.containsKey(key)) {
                    continue;
                }
                // Registered before it opens, so a tap that ends at once is still taken out (and opened again next second).
                OpenTap handle = new OpenTap();
                taps.put(key, handle);
                handle.tap = viz.tapPod(pod, filter.match(), TAP_LIMIT, event -> {
                    synchronized (joiner) {
                        joiner.accept(event, System.currentTimeMillis());
                    }
                }, why -> taps.remove(key, handle));
            }
            taps.keySet().removeIf(key -> {
                if (wanted.contains(key)) {
                    return false;
                }
                closeQuietly(taps.get(key));
                return true;
            });
        }

        private void send(LiveTap.Line line) {
            if (ended.get() || !channel.isWritable() || !rate.tryTake(System.nanoTime()).isZero()) {
                dropped.incrementAndGet();
                return;
            }
            sent.incrementAndGet();
            write(line);
            if (flushPending.compareAndSet(false, true)) {
                channel.eventLoop().schedule(() -> {
                    flushPending.set(false);
                    channel.flush();
                }, FLUSH_EVERY.toMillis(), TimeUnit.MILLISECONDS);
            }
        }

        private void stats() {
            write(Map.of("kind", "stats", "sent", sent.get(), "dropped", dropped.get()));
            channel.flush();
        }

        private void end(String why) {
            if (ended.compareAndSet(false, true)) {
                write(Map.of("kind", "end", "why", why));
                channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
            }
        }

        private void write(Object line) {
            byte[] bytes = json.writeValueAsBytes(line);
            byte[] withNewline = java.util.Arrays.copyOf(bytes, bytes.length + 1);
            withNewline[bytes.length] = '\n';
            channel.write(new DefaultHttpContent(Unpooled.wrappedBuffer(withNewline)));
        }

        private static void closeQuietly(AutoCloseable tap) {
            if (tap != null) {
                try {
                    tap.close();
                } catch (Exception e) {
                    log.debug("dashboard: closing a tap: {}", e.toString());
                }
            }
        }

        private String user() {
            return start.session().viewer.user();
        }
    }
}
