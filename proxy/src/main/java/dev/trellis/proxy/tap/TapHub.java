package dev.trellis.proxy.tap;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import dev.trellis.api.tap.v1.Match;
import dev.trellis.api.tap.v1.Peer;
import dev.trellis.api.tap.v1.RequestInit;
import dev.trellis.api.tap.v1.ResponseEnd;
import dev.trellis.api.tap.v1.ResponseInit;
import dev.trellis.api.tap.v1.TapEvent;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Hands request events to tap subscribers. Costs one volatile read per request when nobody
 * taps. Each subscriber sees requests matching its {@link Match}, up to its limit; once the
 * last of those has ended it is told it is done. Thread-safe.
 */
public final class TapHub {

    /** A request being tapped: call {@link #end} once with its outcome. */
    public interface Tap {
        Tap NONE = (status, grpcStatus, error) -> { };

        void end(int status, Optional<Integer> grpcStatus, Optional<String> error);
    }

    /** A subscriber: where its events go, and what to run when it has had its fill. */
    record Subscriber(Match match, AtomicInteger remaining, AtomicInteger inFlight, Consumer<TapEvent> sink, Runnable done) {}

    private final CopyOnWriteArrayList<Subscriber> subscribers = new CopyOnWriteArrayList<>();
    private final AtomicLong ids = new AtomicLong();

    Subscriber subscribe(Match match, int limit, Consumer<TapEvent> sink, Runnable done) {
        Subscriber subscriber = new Subscriber(match, new AtomicInteger(limit), new AtomicInteger(), sink, done);
        subscribers.add(subscriber);
        return subscriber;
    }

    void unsubscribe(Subscriber subscriber) {
        subscribers.remove(subscriber);
    }

    int subscribers() {
        return subscribers.size();
    }

    /** Starts tapping a request, or returns {@link Tap#NONE} when no subscriber wants it. */
    public Tap start(TapEvent.Direction direction, Peer source, Peer destination, RequestInit request, int destinationPort) {
        if (subscribers.isEmpty()) {
            return Tap.NONE;
        }
        List<Subscriber> interested = subscribers.stream().filter(s -> matches(s.match(), source, destination, request, destinationPort)).toList();
        if (interested.isEmpty()) {
            return Tap.NONE;
        }
        long id = ids.incrementAndGet();
        Instant started = Instant.now();
        long startedNanos = System.nanoTime();
        TapEvent.Builder base = TapEvent.newBuilder().setDirection(direction).setSource(source).setDestination(destination).setStreamId(id);
        List<Subscriber> taking = interested.stream().filter(s -> {
            if (s.remaining().getAndDecrement() > 0) {
                s.inFlight().incrementAndGet();
                return true;
            }
            return false;
        }).toList();
        TapEvent init = base.clone().setTime(timestamp(started)).setRequestInit(request).build();
        taking.forEach(s -> s.sink().accept(init));
        return (status, grpcStatus, error) -> {
            long elapsed = System.nanoTime() - startedNanos;
            Duration since = Duration.newBuilder().setSeconds(elapsed / 1_000_000_000L).setNanos((int) (elapsed % 1_000_000_000L)).build();
            Timestamp now = timestamp(Instant.now());
            TapEvent response = base.clone().setTime(now).setResponseInit(ResponseInit.newBuilder().setStatus(status).setSinceRequestInit(since)).build();
            ResponseEnd.Builder end = ResponseEnd.newBuilder().setSinceRequestInit(since);
            grpcStatus.ifPresent(end::setGrpcStatus);
            error.ifPresent(end::setError);
            TapEvent ended = base.clone().setTime(now).setResponseEnd(end).build();
            for (Subscriber s : taking) {
                s.sink().accept(response);
                s.sink().accept(ended);
                // Done once its last request has ended, not when its last one started.
                if (s.inFlight().decrementAndGet() == 0 && s.remaining().get() <= 0 && subscribers.remove(s)) {
                    s.done().run();
                }
            }
        };
    }

    private static boolean matches(Match match, Peer source, Peer destination, RequestInit request, int destinationPort) {
        return (match.getAuthority().isEmpty() || match.getAuthority().equals(request.getAuthority()))
                && (match.getPathPrefix().isEmpty() || request.getPath().startsWith(match.getPathPrefix()))
                && (match.getMethod().isEmpty() || match.getMethod().equalsIgnoreCase(request.getMethod()))
                && (match.getSourceIdentity().isEmpty() || match.getSourceIdentity().equals(source.getIdentity()))
                && (match.getDestinationIdentity().isEmpty() || match.getDestinationIdentity().equals(destination.getIdentity()))
                && (match.getDestinationPort() == 0 || match.getDestinationPort() == destinationPort);
    }

    private static Timestamp timestamp(Instant at) {
        return Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()).build();
    }
}
