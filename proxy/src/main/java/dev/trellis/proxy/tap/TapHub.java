package dev.trellis.proxy.tap;

import dev.trellis.wire.tap.ObserveRequest.Match;
import dev.trellis.wire.tap.TapEvent.Peer;
import dev.trellis.wire.tap.TapEvent.RequestInit;
import dev.trellis.wire.tap.TapEvent.ResponseEnd;
import dev.trellis.wire.tap.TapEvent.ResponseInit;
import dev.trellis.wire.tap.TapEvent;
import java.time.Duration;
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
        List<Subscriber> taking = interested.stream().filter(s -> {
            if (s.remaining().getAndDecrement() > 0) {
                s.inFlight().incrementAndGet();
                return true;
            }
            return false;
        }).toList();
        TapEvent init = new TapEvent(direction, started, source, destination, request, id);
        taking.forEach(s -> s.sink().accept(init));
        return (status, grpcStatus, error) -> {
            long elapsed = System.nanoTime() - startedNanos;
            Duration since = Duration.ofNanos(elapsed);
            Instant now = Instant.now();
            TapEvent response = new TapEvent(direction, now, source, destination, new ResponseInit(status, since), id);
            TapEvent ended = new TapEvent(direction, now, source, destination, new ResponseEnd(grpcStatus.orElse(0), since, 0, error.orElse("")), id);
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
        return (match.authority().isEmpty() || match.authority().equals(request.authority()))
                && (match.pathPrefix().isEmpty() || request.path().startsWith(match.pathPrefix()))
                && (match.method().isEmpty() || match.method().equalsIgnoreCase(request.method()))
                && (match.sourceIdentity().isEmpty() || match.sourceIdentity().equals(source.identity()))
                && (match.destinationIdentity().isEmpty() || match.destinationIdentity().equals(destination.identity()))
                && (match.destinationPort() == 0 || match.destinationPort() == destinationPort);
    }
}
