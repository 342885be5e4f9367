package dev.trellis.proxy.controlplane;

import static java.util.Objects.requireNonNull;

import dev.trellis.wire.grpc.GrpcClient;
import dev.trellis.wire.grpc.GrpcStatus;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One control-plane stream kept open: started by {@link #start}, each message handed to its
 * {@link Updates} and kept as the latest; when the stream fails or ends it is started again
 * after {@link ReconnectBackoff} (from {@code initialBackoff}, back to it once a stream has
 * answered) while the last answer stays in force. {@code NOT_FOUND} before any answer — a
 * workload the cluster state does not list yet — is logged quietly; any other break is a
 * warning that says whether an answer is being kept. {@link #close} cancels the stream and
 * every reconnect. Thread-safe: messages come on the client's callback thread, readers are event loops.
 *
 * @param <T> the message the stream sends
 */
public final class StreamWatch<T> implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StreamWatch.class);

    /** Starts one call of the stream with {@code listener} as its listener (e.g. {@code client.serverStream(path, request, decoder, listener)}). */
    @FunctionalInterface
    public interface Call<T> {
        GrpcClient.Call start(GrpcClient.Listener<T> listener);
    }

    /** Where the stream's messages go. */
    @FunctionalInterface
    public interface Updates<T> {
        /** The stream's next message. */
        void next(T message);

        /** A new call starts: its first message is a whole answer, not a change to the last one. */
        default void callStarted() {
        }

        /** The call ended (a reconnect follows): {@code status} says why. */
        default void callEnded(dev.trellis.wire.grpc.GrpcStatus status) {
        }

        /** For a watch whose readers want only its latest message, which the watch itself keeps. */
        static <T> Updates<T> latestOnly() {
            return new Updates<>() {
                @Override
                public void next(T message) {
                    // The watch keeps the message as its latest; there is no one else to tell.
                }
            };
        }
    }

    /** Where reconnects are scheduled and how long the first one waits. */
    public record Reconnect(ScheduledExecutorService scheduler, Duration initialBackoff) {
        public Reconnect {
            requireNonNull(scheduler, "scheduler");
            if (initialBackoff.isNegative() || initialBackoff.isZero()) {
                throw new IllegalArgumentException("control plane: a reconnect backoff of " + initialBackoff + " makes no sense");
            }
        }
    }

    private final String what;
    private final Call<T> call;
    private final Updates<T> updates;
    private final Reconnect reconnect;
    private final CompletableFuture<T> first = new CompletableFuture<>();
    private volatile T latest;
    /** A wait for the first answer ran out: later callers take their fallback at once instead of each waiting again. */
    private volatile boolean waitedOut;
    private volatile boolean closed;
    private GrpcClient.Call running;

    /**
     * @param what names the stream in logs, e.g. {@code "discovery of web.emojivoto.svc.cluster.local:80"}
     */
    public StreamWatch(String what, Call<T> call, Updates<T> updates, Reconnect reconnect) {
        this.what = requireNonNull(what, "what");
        this.call = requireNonNull(call, "call");
        this.updates = requireNonNull(updates, "updates");
        this.reconnect = requireNonNull(reconnect, "reconnect");
    }

    /** A watch read only through {@link #latest} and {@link #whenKnown}: each message replaces the last, nothing else is told. */
    public StreamWatch(String what, Call<T> call, Reconnect reconnect) {
        this(what, call, Updates.latestOnly(), reconnect);
    }

    /** Starts the first call. */
    public StreamWatch<T> start() {
        open(0);
        return this;
    }

    /** The last message, if one came. */
    public Optional<T> latest() {
        return Optional.ofNullable(latest);
    }

    /**
     * Calls {@code then} with the latest message: at once on the caller's thread when one came
     * (or an earlier wait already ran out), else on {@code executor} at the first message, or
     * with empty after {@code wait}.
     */
    public void whenKnown(Duration wait, Executor executor, Consumer<Optional<T>> then) {
        T known = latest;
        if (known != null || waitedOut) {
            then.accept(Optional.ofNullable(known));
            return;
        }
        first.copy().orTimeout(wait.toMillis(), TimeUnit.MILLISECONDS).whenComplete((message, error) -> {
            if (error != null) {
                waitedOut = true;
            }
            executor.execute(() -> then.accept(Optional.ofNullable(error == null ? message : null)));
        });
    }

    private void open(int attempt) {
        if (closed) {
            return;
        }
        updates.callStarted();
        GrpcClient.Call started = call.start(new GrpcClient.Listener<T>() {
            private boolean answered;

            @Override
            public void onMessage(T message) {
                answered = true;
                latest = message;
                updates.next(message);
                first.complete(message);
            }

            @Override
            public void onClose(GrpcStatus status) {
                updates.callEnded(status);
                reopen(answered ? 0 : attempt + 1, status.isOk()
                        ? GrpcStatus.of(GrpcStatus.Code.UNAVAILABLE, "the server ended the stream") : status);
            }
        });
        synchronized (this) {
            running = started;
        }
        if (closed) {
            started.cancel("the watch is closed");
        }
    }

    private void reopen(int attempt, GrpcStatus why) {
        if (closed) {
            return;
        }
        long delay = ReconnectBackoff.millis(reconnect.initialBackoff(), attempt);
        if (latest == null && why.code() == GrpcStatus.Code.NOT_FOUND) {
            log.debug("control plane: {} not known yet ({}); asking again in {} ms", what, why.description(), delay);
        } else {
            log.warn("control plane: stream for {} broke ({} {}); {}, reconnecting in {} ms", what, why.code(), why.description(),
                    latest == null ? "no answer yet" : "keeping the last answer", delay);
        }
        reconnect.scheduler().schedule(() -> open(attempt), delay, TimeUnit.MILLISECONDS);
    }

    /** Cancels the stream; no reconnect follows. The last answer stays readable. */
    @Override
    public void close() {
        closed = true;
        GrpcClient.Call stream;
        synchronized (this) {
            stream = running;
        }
        if (stream != null) {
            stream.cancel("the watch is closed");
        }
    }
}
