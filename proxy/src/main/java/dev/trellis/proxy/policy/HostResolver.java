package dev.trellis.proxy.policy;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Host names to addresses through the system resolver (the pod's {@code /etc/resolv.conf}
 * and {@code /etc/hosts}, as the app itself resolves), for egress host rules: a TLS SNI or an
 * HTTP {@code Host} proves nothing about where a connection goes, so a host rule allows a
 * connection only when its original destination is an address the name resolves to.
 *
 * <p>Answers are cached for {@code ttl} (failures for {@code negativeTtl}), at most
 * {@code maxEntries} names; concurrent questions for one name share one lookup. Lookups run
 * on a small pool of their own, never on an event loop, with a bounded queue: a flood of new
 * names fails closed ("resolver busy") instead of queueing without end. The JDK does not
 * expose DNS TTLs, so the cache's TTL is a setting, kept short. Thread-safe.
 */
public final class HostResolver implements AutoCloseable {

    /** How a name becomes addresses; the system resolver unless a test says otherwise. */
    @FunctionalInterface
    public interface Lookup {
        InetAddress[] addresses(String host) throws UnknownHostException;
    }

    /** The defaults: 30 s for answers, 5 s for failures, 10,000 names, 4 lookups at once, 256 waiting. */
    public static HostResolver system() {
        return new HostResolver(InetAddress::getAllByName, Duration.ofSeconds(30), Duration.ofSeconds(5), 10_000, 4, 256, System::nanoTime);
    }

    private static final java.util.regex.Pattern DNS_NAME =
            java.util.regex.Pattern.compile("(?=.{1,253}$)[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?(\\.[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?)*");

    private record Entry(long expiresAt, CompletableFuture<Set<InetAddress>> addresses) {}

    private final Lookup lookup;
    private final long ttlNanos;
    private final long negativeTtlNanos;
    private final int maxEntries;
    private final LongSupplier nanoTime;
    private final ThreadPoolExecutor pool;
    private final ConcurrentHashMap<String, Entry> cache = new ConcurrentHashMap<>();

    public HostResolver(Lookup lookup, Duration ttl, Duration negativeTtl, int maxEntries, int maxLookups, int maxWaiting, LongSupplier nanoTime) {
        this.lookup = requireNonNull(lookup, "lookup");
        this.ttlNanos = ttl.toNanos();
        this.negativeTtlNanos = negativeTtl.toNanos();
        this.maxEntries = maxEntries;
        this.nanoTime = requireNonNull(nanoTime, "nanoTime");
        this.pool = new ThreadPoolExecutor(maxLookups, maxLookups, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(maxWaiting), r -> {
            Thread thread = new Thread(r, "trellis-proxy-resolver");
            thread.setDaemon(true);
            return thread;
        });
        pool.allowCoreThreadTimeOut(true);
    }

    /**
     * The addresses {@code host} resolves to (lower-cased, without a trailing dot); fails with
     * {@link UnknownHostException} when it does not resolve or the resolver is busy.
     */
    public CompletableFuture<Set<InetAddress>> resolve(String host) {
        String name = normalize(host);
        if (!DNS_NAME.matcher(name).matches()) {
            return CompletableFuture.failedFuture(new UnknownHostException(dev.trellis.core.text.UntrustedText.printable(host, 80) + ": not a host name"));
        }
        long now = nanoTime.getAsLong();
        Entry known = cache.get(name);
        if (known != null && known.expiresAt() - now > 0) {
            return known.addresses();
        }
        CompletableFuture<Set<InetAddress>> answer = new CompletableFuture<>();
        // Until the answer, the entry lives for the positive TTL; a failure shortens it below.
        Entry fresh = new Entry(now + ttlNanos, answer);
        Entry raced = known == null ? cache.putIfAbsent(name, fresh) : (cache.replace(name, known, fresh) ? null : cache.get(name));
        if (raced != null && raced != fresh) {
            return raced.addresses();
        }
        bound();
        try {
            pool.execute(() -> {
                try {
                    answer.complete(Set.copyOf(java.util.Arrays.asList(lookup.addresses(name))));
                } catch (UnknownHostException | RuntimeException e) {
                    cache.replace(name, fresh, new Entry(nanoTime.getAsLong() + negativeTtlNanos, answer));
                    answer.completeExceptionally(e instanceof UnknownHostException ? e : new UnknownHostException(name + ": " + e.getMessage()));
                }
            });
        } catch (RejectedExecutionException e) {
            cache.remove(name, fresh);
            answer.completeExceptionally(new UnknownHostException(name + ": resolver busy"));
        }
        return answer;
    }

    /** Past {@code maxEntries} names, expired ones go; if that is not enough, the cache starts over. */
    private void bound() {
        if (cache.size() <= maxEntries) {
            return;
        }
        long now = nanoTime.getAsLong();
        cache.entrySet().removeIf(e -> e.getValue().expiresAt() - now <= 0);
        if (cache.size() > maxEntries) {
            cache.clear();
        }
    }

    static String normalize(String host) {
        String name = host.strip().toLowerCase(java.util.Locale.ROOT);
        return name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
