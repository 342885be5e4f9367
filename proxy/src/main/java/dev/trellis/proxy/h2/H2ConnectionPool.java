package dev.trellis.proxy.h2;

import static java.util.Objects.requireNonNull;

import dev.trellis.proxy.transport.IoRuntime;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * HTTP/2 connections by key (an app's address; an endpoint's address and identity). A new
 * stream goes on the first connection that takes one. A connection at its peer's limit of
 * concurrent streams gets company — another connection, up to {@value #MAX_PER_KEY} per key —
 * instead of refusing the stream; past that the stream is refused (nothing sent). A connection
 * that is going away (the peer's GOAWAY, or {@link #drainIf}) takes no new streams, and every
 * connection leaves the pool when it closes. Thread-safe; the proxy asks for connections on its
 * one event loop.
 */
public final class H2ConnectionPool<K> implements AutoCloseable {

    /** Connections per key at most: enough for 8 × a peer's stream limit (nginx: 128, Netty's default: unlimited). */
    public static final int MAX_PER_KEY = 8;

    /** Opens a connection for a key, its {@link H2Connection} in the pipeline once the future succeeds. */
    @FunctionalInterface
    public interface Connector<K> {
        Future<Channel> connect(K key, EventLoop loop);
    }

    private final Connector<K> connector;
    private final ConcurrentHashMap<K, List<Future<Channel>>> pools = new ConcurrentHashMap<>();

    public H2ConnectionPool(Connector<K> connector) {
        this.connector = requireNonNull(connector, "connector");
    }

    /** A connection for {@code key} that takes a new stream, or one being made; made on {@code loop} when none does. */
    public Future<Channel> connection(K key, EventLoop loop) {
        @SuppressWarnings("unchecked")
        Future<Channel>[] made = new Future[1];
        Future<Channel>[] chosen = new Future[1];
        pools.compute(key, (k, current) -> {
            List<Future<Channel>> list = current == null ? List.of() : current;
            Future<Channel> full = null;
            int usable = 0;
            for (Future<Channel> connection : list) {
                if (!connection.isDone()) {
                    // Being made: the stream waits for it rather than making another.
                    chosen[0] = connection;
                    return list;
                }
                if (!connection.isSuccess()) {
                    continue;
                }
                H2Connection handler = H2Connection.of(connection.getNow());
                if (handler == null) {
                    continue;
                }
                if (handler.takesNewStreams()) {
                    chosen[0] = connection;
                    return list;
                }
                if (handler.atStreamLimit()) {
                    full = connection;
                    usable++;
                }
            }
            if (full != null && usable >= MAX_PER_KEY) {
                chosen[0] = full;
                return list;
            }
            made[0] = connector.connect(k, loop);
            chosen[0] = made[0];
            List<Future<Channel>> grown = new ArrayList<>(list.size() + 1);
            grown.addAll(list);
            grown.add(made[0]);
            return List.copyOf(grown);
        });
        if (made[0] != null) {
            Future<Channel> fresh = made[0];
            fresh.addListener(done -> {
                if (!done.isSuccess()) {
                    remove(key, fresh);
                } else {
                    ((Channel) done.getNow()).closeFuture().addListener(closed -> remove(key, fresh));
                }
            });
        }
        return chosen[0];
    }

    private void remove(K key, Future<Channel> connection) {
        pools.computeIfPresent(key, (k, list) -> {
            List<Future<Channel>> left = new ArrayList<>(list);
            left.remove(connection);
            return left.isEmpty() ? null : List.copyOf(left);
        });
    }

    /** The keys with connections now. */
    public java.util.Set<K> keys() {
        return pools.keySet();
    }

    /** Connections in the pool for {@code key}, being made or made. */
    public int size(K key) {
        return pools.getOrDefault(key, List.of()).size();
    }

    /** Every connection whose key {@code which} accepts takes no new streams and closes once its streams end. */
    public void drainIf(Predicate<K> which) {
        pools.forEach((key, list) -> {
            if (which.test(key) && pools.remove(key, list)) {
                list.forEach(H2ConnectionPool::drain);
            }
        });
    }

    private static void drain(Future<Channel> connection) {
        connection.addListener(made -> {
            if (made.isSuccess()) {
                Channel channel = (Channel) made.getNow();
                IoRuntime.runOn(channel.eventLoop(), () -> {
                    H2Connection handler = H2Connection.of(channel);
                    if (handler != null) {
                        handler.stopNewStreams();
                    }
                    // Netty's HTTP/2 close is graceful: GOAWAY, then the close once the open streams end.
                    channel.close();
                });
            }
        });
    }

    @Override
    public void close() {
        pools.values().forEach(list -> list.forEach(connection -> {
            if (connection.isSuccess()) {
                connection.getNow().close();
            }
        }));
        pools.clear();
    }
}
